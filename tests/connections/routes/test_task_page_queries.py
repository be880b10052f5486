"""The Tasks page and a route's page ask the database as often for many tasks, runs and routes as for a few.

A query per row, run or route (an N+1) is what turns a page over a million tasks from 50 ms into seconds
(``bench/bench_million_tasks.py``); these tests fail on one. Counts above the cap take their estimate path
(``TASK_COUNT_CAP`` is small here), and the estimates a process keeps are forgotten between the two
measurements so both pay for the same queries.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections.models import Route, RouteRun, Task
from connections.task_counts import clear_estimates
from tests.fixtures.queries import page_queries

pytestmark = pytest.mark.django_db


def _add_runs(make_route, make_run, routes: int, runs_per_route: int, tasks_per_run: int) -> list[Route]:
    """Routes with runs whose tasks are in every status a page shows, some with an error to search for."""
    made = []
    for _ in range(routes):
        route = make_route()
        for _ in range(runs_per_route):
            run = make_run(route, tasks_per_run, status=RouteRun.Status.SUCCEEDED).run
            Task.objects.filter(run=run).update(label="Account", label_key="account", search_key="acc")
            ids = list(Task.objects.filter(run=run).order_by("pk").values_list("pk", flat=True))
            Task.objects.filter(pk__in=ids[0::4]).update(status="failed", error="Code 1 bestaat al")
            Task.objects.filter(pk__in=ids[1::4]).update(status="finished")
            Task.objects.filter(pk__in=ids[2::4]).update(status="skipped", skip_reason="unchanged")
        made.append(route)
    return made


def _queries(client: Any, url: str, params: dict[str, Any]) -> tuple[int, str]:
    clear_estimates()
    return page_queries(client, url, params)


@pytest.mark.parametrize("params", [{}, {"status": "failed"}, {"route": "first"}, {"q": "bestaat"},
                                    {"find": "acc"}, {"page": "2"}, {"status": "failed", "q": "bestaat"}],
                         ids=["unfiltered", "status", "route", "text", "find", "page-2", "status-text"])
def test_the_tasks_page_asks_as_often_for_many_tasks_as_for_few(viewer_client, make_route, make_run, settings,
                                                                 params):
    settings.TASK_COUNT_CAP = 20
    first = _add_runs(make_route, make_run, routes=1, runs_per_route=3, tasks_per_run=40)[0]  # over the cap
    query = {**params, "route": first.pk} if params.get("route") else params
    url = reverse("connections:task_list")
    few, page = _queries(viewer_client, url, query)
    assert "route 1" in page and "task(s)" in page
    _add_runs(make_route, make_run, routes=3, runs_per_route=3, tasks_per_run=30)
    many, page = _queries(viewer_client, url, query)
    assert many == few
    assert "<table" in page and ("Page 2 of" in page if params.get("page") else "Page 1 of" in page)


def test_a_routes_page_asks_as_often_for_many_runs_as_for_few(viewer_client, make_route, make_run):
    route = _add_runs(make_route, make_run, routes=1, runs_per_route=2, tasks_per_run=5)[0]
    url = reverse("connections:route_detail", args=[route.pk])
    few, _ = _queries(viewer_client, url, {})
    for _ in range(12):
        make_run(route, 5, status=RouteRun.Status.SUCCEEDED)
    many, _ = _queries(viewer_client, url, {})
    assert many == few


def test_a_text_search_pages_through_its_matches_in_order(viewer_client, make_route, make_run, settings):
    """One scan gives a text search its counts and its pages: each page shows the next matches, newest first, none
    twice, as far as the lower bound reaches."""
    settings.TASK_COUNT_CAP = 7
    _add_runs(make_route, make_run, routes=1, runs_per_route=2, tasks_per_run=40)  # 20 match "bestaat"
    expected = list(Task.objects.filter(error__contains="bestaat").order_by("-created_at", "-pk")
                    .values_list("pk", flat=True))
    url = reverse("connections:task_list")
    settings_per_page = 5
    import connections.views.tasks as views

    shown: list[int] = []
    original = views._KnownCountPaginator.__init__

    def small_pages(self, object_list, per_page, *, total):  # type: ignore[no-untyped-def]
        original(self, object_list, settings_per_page, total=total)

    views._KnownCountPaginator.__init__ = small_pages  # type: ignore[method-assign]
    try:
        for number in (1, 2):
            response = viewer_client.get(url, {"q": "bestaat", "page": number})
            shown += [task.pk for task in response.context["page"].object_list]
        assert "8+" in response.content.decode()  # lower bound: the scan stopped after the cap's matches
    finally:
        views._KnownCountPaginator.__init__ = original  # type: ignore[method-assign]
    assert len(expected) == 20 and shown == expected[:8]


def test_next_and_previous_seek_from_a_row_and_a_bare_page_number_still_works(viewer_client, make_route, make_run,
                                                                              settings, monkeypatch):
    """Next names the last row shown (page N is an index range scan from it, not OFFSET); following Next through
    the filtered list shows every task once, newest first, with the page numbers counting on; Previous comes back
    to the same pages; ``?page=N`` on its own (old links) shows what it always did; a seek page asks no more."""
    import html
    import re

    import connections.views.tasks as views

    monkeypatch.setattr(views, "PER_PAGE", 5)
    settings.TASK_COUNT_CAP = 20
    route = _add_runs(make_route, make_run, routes=2, runs_per_route=2, tasks_per_run=24)[0]
    Task.objects.update(created_at=Task.objects.order_by("pk").first().created_at)  # ties: the id decides
    params = {"route": route.pk, "status": "failed"}
    expected = list(Task.objects.filter(run__route_run__route=route, status="failed")
                    .order_by("-created_at", "-pk").values_list("pk", flat=True))
    url = reverse("connections:task_list")

    def visit(link: str) -> tuple[list[int], dict[str, str], int, str]:
        with CaptureQueriesContext(connection) as captured:
            response = viewer_client.get(url + html.unescape(link))
        page = response.content.decode()
        found = {name: html.unescape(href) for href, name in re.findall(r'href="(\?[^"]*)">(Previous|Next)<', page)}
        return [t.pk for t in response.context["page"].object_list], found, len(captured), page

    shown, links, first_queries, page = visit("?" + "&".join(f"{k}={v}" for k, v in params.items()))
    pages = [shown]
    while "Next" in links:
        assert "after=" in links["Next"] and f"route={route.pk}" in links["Next"]
        shown, links, queries, page = visit(links["Next"])
        assert f"Page {len(pages) + 1} of" in page and queries <= first_queries
        pages.append(shown)
    assert [pk for page_ids in pages for pk in page_ids] == expected and len(pages) == 3  # 12 failed, 5 a page
    back, links, _, page = visit(links["Previous"])
    assert back == pages[1] and "Page 2 of" in page
    back, _, _, page = visit(links["Previous"])
    assert back == pages[0] and "Page 1 of" in page
    bare, _, _, page = visit(f"?route={route.pk}&status=failed&page=2")
    assert bare == pages[1] and "Page 2 of" in page
