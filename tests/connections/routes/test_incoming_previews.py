"""An Incoming run outside a route is a preview: its tasks are marked, not counted, and pruned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.flow import routing
from connections.models import Run, Task
from connections.overview import task_chart_context


def _standalone_run(incoming, count: int = 4) -> Run:
    run = Run.objects.create(incoming=incoming, status=Run.Status.SUCCEEDED)
    Task.objects.bulk_create(Task(run=run, incoming=incoming, identifier=f"preview-{i}", label=f"Preview {i}")
                             for i in range(count))
    return run


@pytest.mark.django_db
def test_preview_tasks_are_not_counted_but_can_be_looked_at(viewer_client, make_route, make_run):
    route = make_route()
    make_run(route, count=3)
    run = _standalone_run(route.incoming)
    page = viewer_client.get(reverse("connections:task_list")).content.decode()
    assert "· 3 task(s)" in page and "preview-0" not in page
    chart = task_chart_context()
    assert sum(bar["total"] for bar in chart["bars"]) == 3
    previews = viewer_client.get(reverse("connections:task_list"), {"scope": "previews"}).content.decode()
    assert "· 4 task(s)" in previews and "never published" in previews
    run_page = viewer_client.get(reverse("connections:run_detail", args=[run.pk])).content.decode()
    assert 'data-testid="preview-note"' in run_page and "preview-0" in run_page


@pytest.mark.django_db
def test_old_previews_are_pruned_and_route_tasks_stay(make_route, make_run, settings):
    settings.PREVIEW_TASK_HOURS = 24
    route = make_route()
    route_run = make_run(route, count=2)
    old = _standalone_run(route.incoming, count=3)
    fresh = _standalone_run(route.incoming, count=1)
    Task.objects.filter(run=old).update(created_at=timezone.now() - timedelta(hours=25))
    Task.objects.filter(run=route_run.run).update(created_at=timezone.now() - timedelta(hours=25))
    assert routing.prune_preview_tasks() == 3
    assert Task.objects.filter(run=fresh).count() == 1
    assert Task.objects.filter(run=route_run.run).count() == 2


@pytest.mark.django_db
def test_a_run_log_line_with_a_long_select_is_folded(viewer_client, make_route):
    from connections.models import RunLogEntry

    route = make_route()
    run = _standalone_run(route.incoming, count=1)
    fields = ",".join(f"Field{i}" for i in range(150))
    RunLogEntry.objects.create(run=run, level=20, message=f"Division 1: reading crm/Accounts with $select={fields}")
    RunLogEntry.objects.create(run=run, level=20, message="Division 1: page 1, 1 records")
    page = viewer_client.get(reverse("connections:run_detail", args=[run.pk])).content.decode()
    assert page.count('<details class="fold">') == 1 and "Division 1: page 1, 1 records" in page
    assert "(1,285 characters)</summary>" in page
