"""Processing on the workers (called directly here): items become tasks of the routes the hook feeds; parse
failures are kept and replayable; duplicates create no tasks; a failure half-way leaves nothing behind."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client

from connections.flow.publish import publish_batch
from connections.models import RouteRun, Task, TriggerSource
from webhooks import feed
from webhooks.kinds import GenericKind
from webhooks.models import Delivery
from webhooks.processing import _claim, _process_claimed, process_delivery, replay, sweep

from .conftest import post

pytestmark = pytest.mark.django_db


def _deliver(hook, payload, **headers) -> Delivery:
    response = post(Client(), hook, payload, **headers)
    assert response.status_code == 202, response.content
    return Delivery.objects.get(pk=response.json()["delivery"])


def test_each_item_becomes_a_task_of_the_route_and_is_published(fed_route, script):
    hook, route = fed_route
    delivery = _deliver(hook, {"orders": [{"id": "A-1", "Name": "One"}, {"id": "A-2", "Name": "Two"}]})
    assert process_delivery(delivery.pk) == Delivery.Status.PROCESSED
    delivery.refresh_from_db()
    assert (delivery.items, delivery.tasks_created) == (2, 2)
    route_run = RouteRun.objects.get(pk=delivery.route_runs[0])
    assert route_run.route == route and route_run.trigger == TriggerSource.WEBHOOK
    tasks = list(Task.objects.filter(run=route_run.run).order_by("identifier"))
    assert [t.identifier for t in tasks] == ["A-1", "A-2"]
    assert tasks[0].data == {"id": "A-1", "Name": "One"}
    publish_batch(route_run, [t.pk for t in tasks])
    assert [job.source_id for job in script.jobs] == ["A-1", "A-2"]
    route_run.refresh_from_db()
    assert route_run.status == RouteRun.Status.SUCCEEDED


def test_a_second_delivery_while_the_first_publishes_gets_its_own_webhook_run(fed_route):
    hook, route = fed_route
    first = _deliver(hook, {"orders": [{"id": 1}]})
    second = _deliver(hook, {"orders": [{"id": 2}]})
    assert process_delivery(first.pk) == process_delivery(second.pk) == Delivery.Status.PROCESSED
    assert route.runs.filter(status=RouteRun.Status.PUBLISHING).count() == 2
    assert route.active_run() is None  # webhook runs do not block Run now / the schedule


def test_a_parse_failure_is_kept_with_its_error_and_replays_after_the_fix(fed_route):
    hook, _route = fed_route
    delivery = _deliver(hook, {"data": [{"id": 1}, {"id": 2}]})  # the hook expects "orders"
    assert process_delivery(delivery.pk) == Delivery.Status.FAILED
    delivery.refresh_from_db()
    assert "found nothing" in delivery.error
    assert not Task.objects.exists()
    hook.parser_config = {"items_path": "data"}
    hook.save()
    assert replay(delivery)
    assert process_delivery(delivery.pk) == Delivery.Status.PROCESSED
    delivery.refresh_from_db()
    assert (delivery.status, delivery.tasks_created, delivery.error, delivery.attempts) == ("processed", 2, "", 2)


def test_a_hook_without_routes_fails_the_delivery_until_a_route_is_connected(make_webhook, make_route):
    hook = make_webhook()
    delivery = _deliver(hook, {"orders": [{"id": 1}]})
    assert process_delivery(delivery.pk) == Delivery.Status.FAILED
    route = make_route()
    route.webhook = hook
    route.save()
    replay(delivery)
    assert process_delivery(delivery.pk) == Delivery.Status.PROCESSED
    assert Task.objects.count() == 1


def test_same_delivery_id_creates_no_second_task(fed_route):
    hook, _route = fed_route
    hook.dedup_header = "X-Delivery-Id"
    hook.save()
    first = _deliver(hook, {"orders": [{"id": 1}]}, X_Delivery_Id="evt-1")
    again = _deliver(hook, {"orders": [{"id": 1}], "retry": 2}, X_Delivery_Id="evt-1")
    other = _deliver(hook, {"orders": [{"id": 1}]}, X_Delivery_Id="evt-2")
    assert [process_delivery(d.pk) for d in (first, again, other)] == ["processed", "duplicate", "processed"]
    again.refresh_from_db()
    assert again.duplicate_of_id == first.pk and again.tasks_created == 0
    assert Task.objects.count() == 2


def test_same_body_within_the_window_creates_no_second_task(fed_route):
    hook, _route = fed_route
    first = _deliver(hook, {"orders": [{"id": 1}]})
    again = _deliver(hook, {"orders": [{"id": 1}]})
    assert [process_delivery(d.pk) for d in (first, again)] == ["processed", "duplicate"]
    hook.dedup_window_seconds = 0
    hook.save()
    late = _deliver(hook, {"orders": [{"id": 1}]})
    Delivery.objects.filter(pk=late.pk).update(received_at=late.received_at.replace(year=late.received_at.year + 1))
    assert process_delivery(late.pk) == "processed"


def test_a_crash_half_way_leaves_no_tasks_and_the_delivery_replayable(fed_route):
    hook, route = fed_route
    delivery = _deliver(hook, {"orders": [{"id": 1}, {"id": 2}]})
    with mock.patch.object(feed, "queue_publishing", autospec=True, side_effect=RuntimeError("boom")):
        assert process_delivery(delivery.pk) == Delivery.Status.FAILED
    assert not Task.objects.exists() and not route.runs.exists()
    delivery.refresh_from_db()
    assert "RuntimeError: boom" in delivery.error
    replay(delivery)
    assert process_delivery(delivery.pk) == Delivery.Status.PROCESSED
    assert Task.objects.count() == 2


def test_a_claimed_delivery_is_not_processed_twice(fed_route):
    hook, _route = fed_route
    delivery = _deliver(hook, {"orders": [{"id": 1}]})
    assert process_delivery(delivery.pk) == "processed"
    assert process_delivery(delivery.pk) == ""
    assert Task.objects.count() == 1


def test_the_sweep_requeues_deliveries_whose_message_was_lost(fed_route):
    hook, _route = fed_route
    delivery = _deliver(hook, {"orders": [{"id": 1}]})
    assert sweep(older_than=timedelta(hours=1)) == 0
    assert sweep(older_than=timedelta(seconds=0)) == 1
    process_delivery(delivery.pk)
    assert sweep(older_than=timedelta(seconds=0)) == 0


def test_a_delivery_whose_worker_died_after_its_claim_is_processed_once_after_the_sweep(fed_route):
    """The claim commits on its own: a worker killed before writing leaves its batch Processing, with nothing
    written. The sweep puts it back to Received, it is processed as a first attempt (still checked against
    duplicates), and the dead claim, were its worker only slow, writes nothing when it comes back."""
    hook, _route = fed_route
    first = _deliver(hook, {"orders": [{"id": 1}, {"id": 2}]})
    again = _deliver(hook, {"orders": [{"id": 1}, {"id": 2}]})  # the sender retried: same body
    dead_claim = _claim(Delivery.objects.filter(pk__in=[first.pk, again.pk]))
    assert {d.status for d in dead_claim} == {Delivery.Status.PROCESSING}
    assert process_delivery(first.pk) == ""  # claimed: nobody else takes it
    assert sweep(stuck_after=timedelta(hours=1)) == 0  # not stuck yet
    assert sweep(older_than=timedelta(hours=1), stuck_after=timedelta(0)) == 0
    assert Delivery.objects.get(pk=first.pk).status == Delivery.Status.RECEIVED
    assert [process_delivery(d.pk) for d in (first, again)] == ["processed", "duplicate"]
    assert _process_claimed(dead_claim) == {}  # its claim was released: it writes nothing
    assert Task.objects.count() == 2
    first.refresh_from_db()
    assert (first.status, first.attempts, first.tasks_created) == ("processed", 1, 2)


@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_open_while_deliveries_are_parsed_and_transformed(fed_route):
    """SQLite has one writer for every process and IMMEDIATE transactions take the write lock at BEGIN: the
    endpoint's INSERT must not wait while a worker parses a batch and runs the routes' chains over it."""
    from django.db import connection

    from webhooks import processing

    hook, _route = fed_route
    for i in range(3):
        _deliver(hook, {"orders": [{"id": i}]})
    seen: dict[str, list[bool]] = {"parse": [], "transform": []}
    items, tasks_for = GenericKind.items, feed.tasks_for

    def parse(self, delivery):
        seen["parse"].append(connection.in_atomic_block)
        return items(self, delivery)

    def transform(*args, **kwargs):
        seen["transform"].append(connection.in_atomic_block)
        return tasks_for(*args, **kwargs)

    with mock.patch.object(GenericKind, "items", parse), mock.patch.object(feed, "tasks_for", transform):
        assert processing.drain(hook.pk) == {"processed": 3}
    assert seen == {"parse": [False] * 3, "transform": [False] * 3}
    assert Task.objects.count() == 3
    assert not Delivery.objects.exclude(status=Delivery.Status.PROCESSED).exists()


def test_the_redacted_body_hides_secrets(fed_route):
    hook, _route = fed_route
    delivery = _deliver(hook, {"orders": [{"id": 1, "api_key": "k-123"}], "password": "pw",
                               "echo": "hmac-secret-for-tests-5b1f"})
    text = delivery.redacted_body()
    assert "k-123" not in text and '"pw"' not in text and "hmac-secret-for-tests-5b1f" not in text
    assert '"id": 1' in text


def test_the_chain_s_storage_steps_remember_a_delivery_s_items(fed_route):
    """The route's chain looks the delivery's keys up at once and writes what it stored with the tasks: the same
    order delivered again is unchanged, a changed one is not."""
    from connections.models import Storage, StorageEntry, Transformer

    hook, route = fed_route
    Storage.objects.create(name="orders-seen")
    route.set_transformers([Transformer.objects.create(name="only changed", steps=[
        {"type": "skip_unchanged", "params": {"store": "orders-seen", "key": "&{id}"}}])])
    first = _deliver(hook, {"orders": [{"id": "A-1", "v": 1}, {"id": "A-2", "v": 1}, {"id": "A-1", "v": 1}]})
    assert process_delivery(first.pk) == Delivery.Status.PROCESSED
    assert sorted(StorageEntry.objects.values_list("key", flat=True)) == ["A-1", "A-2"]
    second = _deliver(hook, {"orders": [{"id": "A-1", "v": 1}, {"id": "A-2", "v": 2}]})
    assert process_delivery(second.pk) == Delivery.Status.PROCESSED
    statuses = [(t.identifier, t.status) for t in Task.objects.order_by("pk")]
    assert statuses == [("A-1", "new"), ("A-2", "new"), ("A-1", "skipped"), ("A-1", "skipped"), ("A-2", "new")]
