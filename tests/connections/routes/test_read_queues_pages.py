"""A route's read queues each page's New tasks as the page commits: the tasks are saved already marked queued
(no second UPDATE of every row), each is sent once in the route's batches, and skipped or failed ones never."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connections import tasks as celery_tasks
from connections.flow import read, routing
from connections.models import RouteRun, Task, Transformer
from connections.subscribers import Page

CHAIN = [{"type": "filter", "params": {"condition": "Blocked == `false`", "reason": "blocked"}},
         {"type": "set_value", "params": {"path": "Code", "template": "C-&{ID}"}}]


class PagesSubscriber:
    """Reads the given pages (the boundary: what an Exact or webshop subscriber yields)."""

    def __init__(self, incoming: Any, pages: list[list[dict[str, Any]]]) -> None:
        self.incoming, self.pages = incoming, pages

    def divisions(self) -> list[int | None]:
        return [None]

    def identifier(self, entity: dict[str, Any]) -> str:
        return str(entity["ID"])

    def read(self, division: int | None, **_: Any):
        for number, entities in enumerate(self.pages, start=1):
            yield Page(division=division, number=number, entities=entities, endpoint="accounts",
                       next_url=None if number == len(self.pages) else f"page-{number + 1}")


@pytest.fixture
def sent(monkeypatch) -> list[tuple[int, list[int]]]:
    calls: list[tuple[int, list[int]]] = []

    class Recorder:  # the messages are sent with apply_async (a queue or a countdown among the options)
        @staticmethod
        def apply_async(args: tuple[int, list[int]], **options: Any) -> None:
            route_run_id, ids = args
            calls.append((route_run_id, list(ids)))

    monkeypatch.setattr(celery_tasks, "publish_route_batch", Recorder)
    return calls


def test_each_page_s_new_tasks_are_saved_queued_and_sent_once(make_route, monkeypatch, sent,
                                                              django_capture_on_commit_callbacks):
    route = make_route(batch_size=4)
    route.set_transformers([Transformer.objects.create(name="accounts", steps=CHAIN)])
    pages = [[{"ID": n, "Blocked": n % 5 == 4} for n in range(start, start + 10)] for start in (0, 10, 20)]
    monkeypatch.setattr(read, "subscriber_for", lambda incoming: PagesSubscriber(incoming, pages))
    route_run = routing.start_route_run(route, enqueue=False)
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        routing.read_route_run(route_run)
    tasks = Task.objects.filter(run=route_run.run)
    new = list(tasks.filter(status=Task.Status.NEW).order_by("pk").values_list("pk", flat=True))
    assert len(new) == 24 and tasks.filter(status=Task.Status.SKIPPED).count() == 6
    assert not tasks.filter(status=Task.Status.NEW, queued_at__isnull=True).exists()
    assert not tasks.filter(status=Task.Status.SKIPPED, queued_at__isnull=False).exists()
    assert [len(ids) for _, ids in sent] == [4, 4] * 3  # per page: 8 New tasks in the route's batches of 4
    assert sorted(pk for _, ids in sent for pk in ids) == new and {rr for rr, _ in sent} == {route_run.pk}
    marking = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "connections_task"')]
    assert marking == []  # saved queued: no second write of the rows
    route_run.refresh_from_db()
    assert route_run.status == RouteRun.Status.PUBLISHING
