"""Route fixtures: a fake publisher (the boundary) and a route with a run full of tasks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from clients.models import HttpClient
from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Task
from connections.publishers import Publisher, PublishError, PublishJob, PublishResult, register_publisher
from connections.waits import WaitUntil


@dataclass
class Script:
    """What the fake publisher does per source id: 'ok' (default), 'permanent', 'transient', 'wait' (the other
    side's quota is used up for 30 s: ``WaitUntil``), 'wait-long' (for two hours), 'database-gone' (the database
    connection drops: ``OperationalError``)."""

    outcomes: dict[str, list[str]] = field(default_factory=dict)
    jobs: list[PublishJob] = field(default_factory=list)

    def next_for(self, source_id: str) -> str:
        queue = self.outcomes.get(source_id) or []
        return queue.pop(0) if queue else "ok"


SCRIPT = Script()


@register_publisher
class FakePublisher(Publisher):
    kind = "fake"
    label = "Fake publisher (tests)"

    def publish(self, job: PublishJob) -> PublishResult:
        SCRIPT.jobs.append(job)
        outcome = SCRIPT.next_for(job.source_id)
        if outcome == "permanent":
            raise PublishError(f"Invalid: {job.source_id}", permanent=True, request={"body": job.payload})
        if outcome == "transient":
            raise PublishError("503 Service Unavailable", permanent=False)
        if outcome == "database-gone":  # PostgreSQL restarting under the worker
            raise OperationalError("server closed the connection unexpectedly")
        if outcome in ("wait", "wait-long"):
            seconds = 30 if outcome == "wait" else 7200
            raise WaitUntil("Throttled by the fake system for division 7", timezone.now() + timedelta(seconds=seconds))
        key = f"key-{job.source_id}"
        return PublishResult(external_key=key, request={"body": job.payload}, response={"status": 201},
                             remember=(job.source_id, key), log=[f"created {key}"], calls=1)


@pytest.fixture
def script() -> Script:
    SCRIPT.outcomes.clear()
    SCRIPT.jobs.clear()
    return SCRIPT


@pytest.fixture
def make_route(db) -> Callable[..., Route]:
    counter = {"n": 0}

    def make(*, publisher: str = "fake", action: str = "create", **route_fields: Any) -> Route:
        counter["n"] += 1
        n = counter["n"]
        client = HttpClient.objects.create(name=f"client {n}", kind="exact_online", config={"base_url": "http://x"})
        incoming = Incoming.objects.create(name=f"incoming {n}", subscriber="exact_online", http_client=client)
        outgoing = Outgoing.objects.create(name=f"outgoing {n}", publisher=publisher, action=action,
                                           entity="crm/Accounts", http_client=client,
                                           config={"reference_field": "SearchCode", "reference_overwrite": True,
                                                   "upsert_key": "Code"})
        return Route.objects.create(name=f"route {n}", incoming=incoming, outgoing=outgoing, **route_fields)

    return make


@pytest.fixture
def make_run(db) -> Callable[..., RouteRun]:
    def make(route: Route, count: int = 3, *, status: str = RouteRun.Status.PUBLISHING) -> RouteRun:
        run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
        Task.objects.bulk_create(
            Task(run=run, incoming=route.incoming, identifier=f"src-{i}", data={"Name": f"Account {i}", "i": i},
                 transformed={"Name": f"Account {i}"}) for i in range(count)
        )
        return RouteRun.objects.create(route=route, run=run, status=status)

    return make


@pytest.fixture
def own_sandbox(sandbox_factory):
    """A sandbox of this test's own: the tests that write thousands of records leave the shared one alone."""
    return sandbox_factory()
