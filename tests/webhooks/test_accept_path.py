"""The accept path's writes: the delivery is committed on its own before the answer, the drain flag is raised
only after that commit and only written when it is down, and a broker failure loses nothing.

Transactional tests: what is checked here is what happens at commit, outside any test transaction.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import Client

from webhooks import tasks
from webhooks.models import Delivery, Webhook
from webhooks.processing import drain

from .conftest import post

pytestmark = pytest.mark.django_db(transaction=True)


class Statements:
    """Every SQL statement run, with whether it ran inside an atomic block."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.seen.append((sql, connection.in_atomic_block))
        return execute(sql, params, many, context)

    def writes_to(self, table: str) -> list[tuple[str, bool]]:
        return [(sql, atomic) for sql, atomic in self.seen
                if sql.lstrip().upper().startswith(("INSERT", "UPDATE")) and f'"{table}"' in sql]


def _flag(hook: Webhook) -> bool:
    return Webhook.objects.values_list("drain_queued", flat=True).get(pk=hook.pk)


def test_the_delivery_is_committed_by_its_insert_alone_then_one_drain_is_queued(make_webhook):
    hook = make_webhook()
    statements = Statements()
    seen_at_queue: list[int] = []
    with mock.patch.object(tasks.drain_webhook, "delay",
                           side_effect=lambda pk: seen_at_queue.append(Delivery.objects.filter(webhook_id=pk).count())
                           ) as delay, connection.execute_wrapper(statements):
        assert post(Client(), hook, {"orders": [{"id": 1}]}).status_code == 202
    inserts = statements.writes_to("webhooks_delivery")
    assert len(inserts) == 1 and inserts[0][1] is False  # autocommit: no transaction held around it
    delay.assert_called_once_with(hook.pk)
    assert seen_at_queue == [1]  # the job is queued once the delivery is committed
    assert _flag(hook) is True


def test_while_a_drain_is_queued_a_delivery_writes_nothing_but_itself(make_webhook):
    hook = make_webhook()
    Webhook.objects.filter(pk=hook.pk).update(drain_queued=True)
    statements = Statements()
    with mock.patch.object(tasks.drain_webhook, "delay") as delay, connection.execute_wrapper(statements):
        for i in range(3):
            assert post(Client(), hook, {"orders": [{"id": i}]}).status_code == 202
    delay.assert_not_called()
    assert statements.writes_to("webhooks_webhook") == []  # the flag is read, not updated: no write lock taken
    assert len(statements.writes_to("webhooks_delivery")) == 3


def test_the_drain_lowers_the_flag_and_the_next_delivery_queues_again(make_webhook):
    hook = make_webhook()
    with mock.patch.object(tasks.drain_webhook, "delay") as delay:
        post(Client(), hook, {"orders": [{"id": 1}]})
        post(Client(), hook, {"orders": [{"id": 2}]})
        assert delay.call_count == 1
        drain(hook.pk)  # a hook without routes: its deliveries fail, the flag is what matters here
        assert _flag(hook) is False
        post(Client(), hook, {"orders": [{"id": 3}]})
        assert delay.call_count == 2


def test_a_broker_failure_still_answers_202_for_what_is_stored_and_the_next_delivery_tries_again(make_webhook):
    hook = make_webhook()
    with mock.patch.object(tasks.drain_webhook, "delay", side_effect=ConnectionError("broker down")) as delay:
        response = post(Client(), hook, {"orders": [{"id": 1}]})
    assert response.status_code == 202
    assert Delivery.objects.filter(pk=response.json()["delivery"], status=Delivery.Status.RECEIVED).exists()
    assert delay.call_count == 1
    assert _flag(hook) is False  # lowered again: not left raised with no job behind it
    with mock.patch.object(tasks.drain_webhook, "delay") as delay:
        assert post(Client(), hook, {"orders": [{"id": 2}]}).status_code == 202
    delay.assert_called_once_with(hook.pk)
