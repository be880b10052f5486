"""Runs and tasks change status only through their models' transitions, each winning at most once."""

from __future__ import annotations

from connections.models import RouteRun, Run, Task


def test_a_claim_is_a_token_of_its_own_and_a_task_is_claimed_once(make_route, make_run):
    route_run = make_run(make_route(), 3)
    ids = list(Task.objects.filter(run=route_run.run).order_by("pk").values_list("pk", flat=True))
    first = Task.objects.claim(ids[:2])
    second = Task.objects.claim(ids)  # a second worker, same moment: only what is left
    assert [t.pk for t in first] == ids[:2] and [t.pk for t in second] == ids[2:]
    assert len({t.claim_token for t in first}) == 1 and first[0].claim_token != second[0].claim_token
    assert all(t.status == Task.Status.PROCESSING and t.attempts == 1 for t in [*first, *second])


def test_a_worker_whose_claim_was_taken_back_changes_nothing(make_route, make_run):
    route_run = make_run(make_route(), 1)
    (task,) = Task.objects.claim(Task.objects.filter(run=route_run.run).values_list("pk", flat=True))
    stale = Task.objects.get(pk=task.pk)
    assert task.release("its worker stopped")  # the repair job
    (again,) = Task.objects.claim([task.pk])  # another worker
    assert not stale.renew_claim()
    assert not stale.finish("Published.")
    assert again.finish("Published.")
    assert not again.fail("too late")  # a transition leaves only the states it may leave
    assert Task.objects.get(pk=task.pk).status == Task.Status.FINISHED


def test_users_skip_and_requeue_only_from_the_states_that_allow_it(make_route, make_run):
    route_run = make_run(make_route(), 2)
    waiting, busy = Task.objects.filter(run=route_run.run).order_by("pk")
    (busy,) = Task.objects.claim([busy.pk])
    assert not busy.skip("by a user", message="Skipped by a user.")  # a worker has it
    assert not waiting.requeue("Retry requested.")  # New: nothing to retry
    assert waiting.skip("by a user", message="Skipped by a user.")
    assert waiting.requeue("Retry requested.")
    waiting.refresh_from_db()
    assert waiting.status == Task.Status.RETRY and waiting.attempts == 0
    assert [line["message"] for line in waiting.log[-2:]] == ["Skipped by a user.", "Retry requested."]


def test_a_route_run_reads_publishes_and_closes_once(make_route, make_run):
    route_run = make_run(make_route(), 1, status=RouteRun.Status.READING)
    assert route_run.finish_reading(api_calls=2)
    assert not route_run.finish_reading(error="a second close")
    assert not route_run.finish_if_done()  # a task is still open
    (task,) = Task.objects.claim(Task.objects.filter(run=route_run.run).values_list("pk", flat=True))
    task.finish("Published.")
    assert route_run.finish_if_done()
    assert not route_run.finish_if_done()
    route_run.refresh_from_db()
    assert (route_run.status, route_run.api_calls, route_run.error) == (RouteRun.Status.SUCCEEDED, 2, "")


def test_a_run_starts_and_finishes_once(make_route):
    run = Run.objects.create(incoming=make_route().incoming)
    assert run.start() and not Run.objects.get(pk=run.pk).start()
    assert run.finish(Run.Status.SUCCEEDED) and not run.finish(Run.Status.FAILED, "late")
    assert Run.objects.get(pk=run.pk).status == Run.Status.SUCCEEDED
