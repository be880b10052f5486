"""A run that dies after page 7 is resumed at page 8; a non-JSON page fails the run, which can be resumed; a page
Exact does not answer (timeout, 503) makes the run wait and read on from its checkpoint."""

from __future__ import annotations

import pytest
from django.utils import timezone

from connections.flow.read import execute_incoming_run
from connections.models import Run, Task
from exact_online.client_type import api_for
from exact_online.subscriber import ExactSubscriber

from .conftest import DIVISION, make_incoming

pytestmark = pytest.mark.django_db(transaction=True)


class WorkerDied(Exception):
    pass


# Exact breaks once page 3 is saved: the next page it is asked for fails. That is page 4, 5 or 6: the reader
# reads one page ahead (``read_ahead``), and page 4 is transformed while page 3 is being saved (``PageWriter``),
# so pages 4 and 5 may have been fetched before page 3's commit is told.
FAILED_AFTER_3 = (3, 4, 5)


def all_identifiers(*runs: Run) -> list[str]:
    return list(Task.objects.filter(run__in=runs).values_list("identifier", flat=True))


def test_a_crash_after_page_7_resumes_at_page_8(exact_client):
    incoming = make_incoming(exact_client, endpoint="sync", query={"$select": "ID,Name"}, name="crashy")
    run, _ = Run.enqueue(incoming)

    def die_after_page_7(run: Run, page) -> None:
        if page.number == 7:
            raise WorkerDied("worker killed")

    crashed = execute_incoming_run(run.pk, on_page=die_after_page_7)
    assert crashed.status == Run.Status.FAILED and "WorkerDied" in crashed.error
    assert crashed.pages == 7 and crashed.entities_read == 7 * 1000
    next_url = crashed.checkpoint[str(DIVISION)]["next_url"]
    assert next_url and "sync/CRM/Accounts" in next_url

    resumed = crashed.resume()
    assert resumed.checkpoint == crashed.checkpoint and resumed.resumed_from == crashed
    done = execute_incoming_run(resumed.pk)
    assert done.status == Run.Status.SUCCEEDED, done.error
    assert done.log_entries.filter(message__contains="at page 8").exists()
    ids = all_identifiers(crashed, done)
    assert len(ids) == len(set(ids)) == int(api_for(exact_client).get("crm/Accounts/$count", division=DIVISION))
    assert done.pages == -(-len(ids) // 1000) - 7


@pytest.mark.parametrize(("fault", "message"), [
    ({"html_rate": 1, "html_status": 200}, ""),  # an HTML page where JSON belongs
], ids=["not-json"])
def test_a_bad_page_fails_the_run_with_the_error_and_resume_continues(exact_client, big_sandbox, monkeypatch,
                                                                     settings, fault, message):
    # One attempt per call, no backoff, a short timeout: the retry policy is the HTTP layer's, tested there.
    settings.OUTBOUND_TIMEOUT = 2.0  # a loaded machine answers a healthy page in time
    monkeypatch.setattr(ExactSubscriber, "api", lambda self: api_for(self.incoming.http_client, max_attempts=1,
                                                                       backoff=0.0))
    incoming = make_incoming(exact_client, endpoint="bulk", query={"$select": "ID"}, name="bad page")
    run, _ = Run.enqueue(incoming)

    def break_exact_after_page_3(run: Run, page) -> None:
        if page.number == 3:
            big_sandbox.set_faults({"path": "bulk/CRM/Accounts", "times": 1, **fault})

    try:
        failed = execute_incoming_run(run.pk, on_page=break_exact_after_page_3)
    finally:
        big_sandbox.clear_faults()
    assert failed.status == Run.Status.FAILED and failed.error and message in failed.error
    assert failed.pages in FAILED_AFTER_3 and failed.can_resume
    assert failed.log_entries.filter(level__gte=40).exists()
    settings.OUTBOUND_TIMEOUT = 30.0
    done = execute_incoming_run(failed.resume().pk)
    assert done.status == Run.Status.SUCCEEDED, done.error
    ids = all_identifiers(failed, done)
    assert len(ids) == len(set(ids)) == int(api_for(exact_client).get("crm/Accounts/$count", division=DIVISION))


@pytest.mark.parametrize("fault", [{"latency_ms": 6000}, {"error_rate": 1, "error_status": 503}],
                         ids=["timeout", "503"])
def test_a_page_exact_does_not_answer_waits_and_the_same_run_reads_on(exact_client, big_sandbox, monkeypatch,
                                                                       settings, fault):
    """An outage is not a failure: the run goes back to Queued with the reason and until when (no worker sleeps,
    ``connections.waits``), and run again it reads on from its checkpoint, every record once."""
    settings.OUTBOUND_TIMEOUT = 2.0  # a loaded machine answers a healthy page in time
    settings.EXACT_OUTAGE_WAIT = 30.0
    incoming = make_incoming(exact_client, endpoint="bulk", query={"$select": "ID"}, name="outage page")
    run, _ = Run.enqueue(incoming)

    def break_exact_after_page_3(run: Run, page) -> None:
        if page.number == 3:
            big_sandbox.set_faults({"path": "bulk/CRM/Accounts", "times": 1, **fault})

    try:
        waiting = execute_incoming_run(run.pk, on_page=break_exact_after_page_3)
    finally:
        big_sandbox.clear_faults()
    assert waiting.status == Run.Status.QUEUED and not waiting.error
    assert waiting.wait_reason.startswith("Exact Online ") and f"division {DIVISION}" in waiting.wait_reason
    assert 25 <= (waiting.waiting_until - timezone.now()).total_seconds() <= 37  # the outage wait, jittered
    assert waiting.pages in FAILED_AFTER_3
    settings.OUTBOUND_TIMEOUT = 30.0
    done = execute_incoming_run(waiting.pk)  # what the broker's countdown sends once the wait is over
    assert done.status == Run.Status.SUCCEEDED, done.error
    assert done.log_entries.filter(message__contains=f"at page {waiting.pages + 1}").exists()
    ids = all_identifiers(done)
    assert len(ids) == len(set(ids)) == int(api_for(exact_client).get("crm/Accounts/$count", division=DIVISION))


def test_a_run_that_is_going_is_not_started_twice(exact_client):
    incoming = make_incoming(exact_client, endpoint="standard", query={"$select": "ID"}, name="once")
    run, created = Run.enqueue(incoming)
    again, created_again = Run.enqueue(incoming)
    assert created and not created_again and again.pk == run.pk
    assert run.start() is True
    assert Run.objects.get(pk=run.pk).start() is False  # a second worker cannot claim it
    assert execute_incoming_run(run.pk).status == Run.Status.READING  # not executed by a second caller
    run.finish(Run.Status.CANCELLED)
    assert Run.enqueue(incoming)[1] is True


def test_a_redelivered_task_takes_over_a_run_whose_worker_died(exact_client):
    from datetime import timedelta

    from django.utils import timezone

    incoming = make_incoming(exact_client, endpoint="sync", query={"$select": "ID"}, name="orphan")
    run, _ = Run.enqueue(incoming)

    def die_after_page_4(run: Run, page) -> None:
        if page.number == 4:
            raise SystemExit("SIGKILL")  # not an Exception: nothing in the runner catches it, like a killed worker

    with pytest.raises(SystemExit):
        execute_incoming_run(run.pk, on_page=die_after_page_4)
    run.refresh_from_db()
    assert run.status == Run.Status.READING and run.pages == 4
    assert execute_incoming_run(run.pk).pages == 4  # heartbeat still fresh: a live worker may own it
    Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=11))
    done = execute_incoming_run(run.pk)
    assert done.status == Run.Status.SUCCEEDED, done.error
    assert done.log_entries.filter(message__contains="stopped reporting").exists()
    ids = all_identifiers(done)
    assert len(ids) == len(set(ids)) == done.entities_read
    assert done.entities_read == int(api_for(exact_client).get("crm/Accounts/$count", division=DIVISION))
