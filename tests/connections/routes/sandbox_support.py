"""Helpers for route tests against the sandbox: the A→B account copy route, read and publish in this process."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from clients.models import HttpClient
from connections.flow import publish, routing
from connections.models import Incoming, Outgoing, Route, RouteRun, Run, Storage, Task, Transformer
from exact_online.client_type import api_for

COPIED_FIELDS = ["Name", "City", "Email", "Phone", "Postcode", "Country", "Website"]


def accounts(client: HttpClient, division: int, select: str = "ID,Name,City,SearchCode") -> list[dict[str, Any]]:
    api = api_for(client)
    rows: list[dict[str, Any]] = []
    for page in api.iter_pages("crm/Accounts", division=division, params={"$select": select}):
        rows.extend(page.results)
    return rows


def copy_route(client: HttpClient, source: int, target: int, *, name: str = "copy accounts",
               reference_field: str = "") -> Route:
    """Accounts of division ``source`` upserted into ``target``; unchanged accounts are filtered out.

    Configured as the Outgoing form would accept it: an upsert key (Code; the copied fields leave it out, so
    the source id map decides between update and create), and the reference kept on our side unless a test
    names a ``reference_field``, whose overwrite it then confirms."""
    Storage.objects.get_or_create(name=f"{name}-seen".replace(" ", "-"))
    incoming = Incoming.objects.create(
        name=f"{name}: accounts of {source}", subscriber="exact_online", http_client=client,
        config={"entity": "crm/Accounts", "divisions": "selected", "division_codes": [source], "endpoint": "auto"},
        query={"$select": ",".join(["ID", *COPIED_FIELDS])},
    )
    seen = Transformer.objects.create(name=f"{name}: only changed", steps=[
        {"type": "skip_unchanged", "params": {"store": f"{name}-seen".replace(" ", "-"), "key": "&{ID}",
                                              "record": "deferred"}},
    ])
    shape = Transformer.objects.create(name=f"{name}: shape", steps=[
        {"type": "key_map", "params": {"mapping": {f: f for f in COPIED_FIELDS}, "unmapped": "drop"}},
    ])
    outgoing = Outgoing.objects.create(
        name=f"{name}: upsert into {target}", publisher="exact_online", action="upsert", entity="crm/Accounts",
        path={"division": target}, http_client=client,
        config={"upsert_key": "Code", "reference_field": reference_field, "reference_overwrite": bool(reference_field)},
    )
    route = Route.objects.create(name=name, incoming=incoming, outgoing=outgoing, backoff_seconds=1, batch_size=50)
    route.set_transformers([seen, shape])
    return route


def run_inline(route: Route, *, rounds: int = 10) -> RouteRun:
    """One whole run in this process (no broker): read, then publish until no task is open."""
    route_run = routing.start_route_run(route, enqueue=False)
    routing.read_route_run(route_run)
    for _ in range(rounds):  # a read that waits (Exact did not answer: connections.waits) reads on at once here
        route_run.refresh_from_db()
        run = route_run.run
        if route_run.status != RouteRun.Status.READING or run is None or not run.waiting_until:
            break
        Run.objects.filter(pk=run.pk).update(waiting_until=timezone.now())
        routing.read_route_run(route_run)
    for _ in range(rounds):
        open_ids = list(Task.objects.filter(run_id=route_run.run_id, status__in=Task.OPEN)
                        .values_list("pk", flat=True))
        if not open_ids:
            break
        Task.objects.filter(pk__in=open_ids).update(next_attempt_at=None)  # no waiting for backoff in tests
        route_run.refresh_from_db()
        publish.publish_batch(route_run, open_ids)
    route_run.refresh_from_db()
    return route_run
