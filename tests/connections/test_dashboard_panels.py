"""The dashboard shows what ran and failed, and a picture of tasks per day and status."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.models import Run, Task
from connections.overview import task_chart_context


@pytest.mark.django_db
def test_chart_stacks_tasks_per_day_and_status_and_links_to_the_task_list():
    now = timezone.now()
    Task.objects.bulk_create([Task(status=Task.Status.FINISHED, data={}) for _ in range(6)]
                             + [Task(status=Task.Status.FAILED, data={}) for _ in range(2)])
    old = Task.objects.create(status=Task.Status.FINISHED, data={})
    Task.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=3))
    Task.objects.create(status=Task.Status.FINISHED, data={})  # ignored below: moved out of the window
    Task.objects.filter(pk=Task.objects.latest("pk").pk).update(created_at=now - timedelta(days=40))

    chart = task_chart_context()
    today, three_days_ago = chart["bars"][-1], chart["bars"][-4]
    assert chart["total"] == 9
    assert today["total"] == 8
    assert [(s["label"], s["n"]) for s in today["segments"]] == [("Finished", 6), ("Failed", 2)]
    assert three_days_ago["total"] == 1
    tallest = max(s["height"] for s in today["segments"])
    assert tallest == pytest.approx(6 / 8 * chart["height"], abs=0.1)
    assert "status=failed" in today["segments"][1]["url"].lower()


@pytest.mark.django_db
def test_dashboard_lists_failed_runs_and_the_chart(viewer_client):
    run = Run.objects.create(status=Run.Status.FAILED, error="Exact said: Ongeldige referentie", api_calls=7)
    Task.objects.create(status=Task.Status.FAILED, data={}, run=run)
    page = viewer_client.get("/").content.decode()
    assert "Runs · last 24 hours" in page
    assert f"Run #{run.pk}" in page
    assert "Ongeldige referentie" in page
    assert "<svg" in page and "1 Failed" in page


@pytest.mark.django_db
def test_empty_dashboard_panels_explain_themselves(viewer_client):
    page = viewer_client.get("/").content.decode()
    assert "No runs in the last 24 hours" in page
    assert "No tasks in the last two weeks" in page
