"""'Retry all matching' runs in the background in chunks, and the Tasks page shows how far it got."""

from __future__ import annotations

import pytest
from django.urls import reverse

from connections.flow import bulk
from connections.models import Task, TaskBulkRetry


@pytest.mark.django_db
def test_retry_all_matching_runs_in_chunks_with_progress(editor_client, make_route, make_run, monkeypatch,
                                                         django_capture_on_commit_callbacks):
    route = make_route()
    other = make_route()
    run = make_run(route, 25)
    make_run(other, 5)
    Task.objects.filter(run=run.run, identifier__in=[f"src-{i}" for i in range(23)]).update(status="failed")
    Task.objects.filter(run__route_run__route=other).update(status="failed")  # another route's: not matched
    monkeypatch.setattr(bulk, "CHUNK", 10)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = editor_client.post(reverse("connections:task_bulk"),
                                      {"action": "retry", "route": route.pk, "status": "failed"}, follow=True)
    assert len(callbacks) == 1  # the request only records the job and sends it to a worker
    job = TaskBulkRetry.objects.get()
    assert job.status == "queued" and "in the background" in response.content.decode()
    assert Task.objects.filter(status="failed").count() == 28  # nothing changed yet

    chunks: list[int] = []
    real_requeue = bulk.requeue_tasks

    def counting(tasks, **kwargs):
        chunks.append(len(tasks))
        return real_requeue(tasks, **kwargs)

    monkeypatch.setattr(bulk, "requeue_tasks", counting)
    bulk.run_bulk_retry(job.pk)  # what the worker runs
    job.refresh_from_db()
    assert chunks == [10, 10, 3]
    assert (job.status, job.total, job.done, job.queued) == ("finished", 23, 23, 23)
    assert Task.objects.filter(run=run.run, status="retry").count() == 23
    assert Task.objects.filter(run__route_run__route=other, status="failed").count() == 5
    assert "Retry (all matching) requested by" in Task.objects.filter(status="retry").first().log[-1]["message"]
    progress = editor_client.get(reverse("connections:task_bulk_progress")).content.decode()
    assert "<strong>23</strong> of 23 done" in progress and 'value="100"' in progress
    assert "hx-trigger" not in progress  # nothing left to poll for
    assert bulk.run_bulk_retry(job.pk) is None  # a redelivered message does nothing twice


@pytest.mark.django_db
def test_a_running_job_is_polled_and_resumes_after_its_last_task(editor_client, make_route, make_run):
    route = make_route()
    run = make_run(route, 6)
    Task.objects.filter(run=run.run).update(status="failed")
    first_three = list(Task.objects.filter(run=run.run).order_by("pk").values_list("pk", flat=True))[:3]
    job = TaskBulkRetry.objects.create(filters={"route": str(route.pk)}, status="running", total=6, done=3,
                                       last_task=first_three[-1])  # its worker died after three
    page = editor_client.get(reverse("connections:task_list")).content.decode()
    assert 'hx-trigger="every 2s"' in page and "<strong>3</strong> of 6 done" in page
    bulk.run_bulk_retry(job.pk)
    job.refresh_from_db()
    assert (job.status, job.done) == ("finished", 6)
    assert Task.objects.filter(pk__in=first_three, status="failed").count() == 3  # not done twice
    assert Task.objects.filter(run=run.run, status="retry").count() == 3


@pytest.mark.django_db
def test_a_chunk_is_one_transaction_of_as_many_queries_for_many_runs_as_for_one(make_route, make_run, monkeypatch,
                                                                                django_capture_on_commit_callbacks):
    """A chunk moves its tasks in one UPDATE (not one per task) and looks up its runs once: its queries do not grow
    with its tasks or runs, and its transaction stays short (100,000 tasks: ``bench/bench_million_retry.py``)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def chunk_queries(runs: int, tasks_per_run: int) -> int:
        route = make_route()
        for _ in range(runs):
            Task.objects.filter(run=make_run(route, tasks_per_run, status="succeeded").run).update(status="failed")
        job = TaskBulkRetry.objects.create(filters={"route": str(route.pk)})
        rows = list(Task.objects.filter(run__route_run__route=route).order_by("pk").values_list("pk", "run_id"))
        with CaptureQueriesContext(connection) as captured, django_capture_on_commit_callbacks(execute=False) as sent:
            bulk.requeue_chunk(job, rows, message="Retry (all matching) requested by a test.")
        assert Task.objects.filter(run__route_run__route=route, status="retry").count() == runs * tasks_per_run
        assert len(sent) == runs  # a message per run (its batch), sent once the chunk commits
        return len([q for q in captured.captured_queries if "connections_task\"" in q["sql"]
                    and q["sql"].lstrip().upper().startswith("UPDATE")])

    assert chunk_queries(1, 3) == chunk_queries(4, 25) == 1
