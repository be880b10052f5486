"""A route's chain with a storage step, read a page at a time: the page's keys are asked in one query (not one
per entity), the outcomes are those of entity-by-entity runs, and what the chain stored is written with the
page's tasks, so a page that is not saved leaves no hash behind (its entities are not "unchanged" next time)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connections.flow import routing
from connections.flow.read import _save_page, subscriber_for
from connections.models import Run, Storage, StorageEntry, Task, Transformer
from connections.subscribers import Page

CHAIN = [
    {"type": "filter", "params": {"condition": "Blocked == `false`", "reason": "blocked"}},
    {"type": "move", "params": {"source": "Name", "target": "name"}},
    {"type": "skip_unchanged", "params": {"store": "seen", "key": "&{ID}"}},
    {"type": "storage_get", "params": {"store": "codes", "key": "&{ID}", "target": "code"}},
]


def _accounts(count: int, start: int = 0) -> list[dict]:
    return [{"ID": f"id-{n}", "Name": f"Account {n}", "Blocked": n % 10 == 9} for n in range(start, start + count)]


@pytest.fixture
def route(make_route):
    Storage.objects.create(name="seen")
    codes = Storage.objects.create(name="codes")
    StorageEntry.objects.bulk_create(StorageEntry(storage=codes, key=f"id-{n}", value=f"C{n}")
                                     for n in range(0, 200, 2))
    route = make_route()
    route.set_transformers([Transformer.objects.create(name="accounts", steps=CHAIN)])
    return route


def _page(entities: list[dict], number: int = 1) -> Page:
    return Page(division=1, number=number, entities=entities, next_url=f"next-{number}", endpoint="crm/Accounts")


def _save(route, run: Run, page: Page, transform=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        _save_page(run, subscriber_for(route.incoming), page, transform or routing.chain_transform(route))
    return len(queries)


def test_a_page_asks_the_storage_once_whatever_its_size(route):
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.READING)
    transform = routing.chain_transform(route)
    _save(route, run, _page(_accounts(5)), transform)  # the storages are found by name once per run
    small = _save(route, run, _page(_accounts(10, start=5), 2), transform)
    large = _save(route, run, _page(_accounts(100, start=15), 3), transform)
    assert large == small  # one load per storage, one upsert: nothing per entity
    assert StorageEntry.objects.filter(storage__name="seen").count() == 104  # 115 read, 11 blocked


def test_the_outcomes_are_those_of_one_entity_at_a_time(route):
    StorageEntry.objects.create(storage=Storage.objects.get(name="seen"), key="id-1", content_hash="stale")
    entities = [*_accounts(6), {"ID": "id-2", "Name": "Account 2", "Blocked": False}]  # id-2 twice, unchanged
    # Entity by entity, each write at once (the chain as the publishing step runs it again):
    chain = routing.route_chain(route)
    expected = [(o.skipped_reason, o.entities) for o in map(chain, entities)]
    StorageEntry.objects.filter(storage__name="seen").exclude(key="id-1").delete()
    StorageEntry.objects.filter(key="id-1").update(content_hash="stale")
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.READING)
    _save(route, run, _page(entities))
    tasks = list(Task.objects.filter(run=run).order_by("pk"))
    assert [(t.skip_reason or None, [t.transformed] if t.transformed else []) for t in tasks] == expected
    assert [t.status for t in tasks] == ["new"] * 6 + ["skipped"]
    assert tasks[-1].skip_reason.startswith("accounts: unchanged since it last passed (seen)")
    assert [t.transformed["code"] for t in tasks[:6]] == ["C0", None, "C2", None, "C4", None]


def test_a_page_that_is_not_saved_records_no_hash(route, monkeypatch):
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.READING)
    transform = routing.chain_transform(route)
    page = _page(_accounts(5))
    real = Task.objects.bulk_create

    def failing(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Task.objects, "bulk_create", failing)
    with pytest.raises(RuntimeError):
        _save(route, run, page, transform)
    assert not StorageEntry.objects.filter(storage__name="seen").exists()
    monkeypatch.setattr(Task.objects, "bulk_create", real)
    _save(route, run, page, transform)  # the resumed read reads the page again
    assert list(Task.objects.filter(run=run).values_list("status", flat=True)) == ["new"] * 5
    assert StorageEntry.objects.filter(storage__name="seen").count() == 5
