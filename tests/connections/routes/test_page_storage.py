"""A route's chain with a storage step, read a page at a time: the page's keys are asked in one query (not one
per entity), the outcomes are those of entity-by-entity runs, and what the chain stored is written with the
page's tasks, so a page that is not saved leaves no hash behind (its entities are not "unchanged" next time)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connections.flow import read, routing
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
    real = read.insert_rows

    def failing(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(read, "insert_rows", failing)  # how the reader writes the page's tasks
    with pytest.raises(RuntimeError):
        _save(route, run, page, transform)
    assert not StorageEntry.objects.filter(storage__name="seen").exists()
    monkeypatch.setattr(read, "insert_rows", real)
    _save(route, run, page, transform)  # the resumed read reads the page again
    assert list(Task.objects.filter(run=run).values_list("status", flat=True)) == ["new"] * 5
    assert StorageEntry.objects.filter(storage__name="seen").count() == 5


def test_the_chain_runs_once_for_entities_the_storage_does_not_hold_yet(make_route, monkeypatch):
    from connections.flow.transform import RouteChain

    Storage.objects.create(name="seen")
    route = make_route()
    route.set_transformers([Transformer.objects.create(name="only changed", steps=[CHAIN[0], CHAIN[2]])])
    runs = []
    real_run = RouteChain._run
    monkeypatch.setattr(RouteChain, "_run", lambda self, entity, context: runs.append(entity) or real_run(
        self, entity, context))
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.READING)
    transform = routing.chain_transform(route)
    _save(route, run, _page(_accounts(10)), transform)
    assert len(runs) == 10  # the probe's runs stand: every key was new
    runs.clear()
    _save(route, run, _page(_accounts(10), 2), transform)
    assert len(runs) == 10 + 9  # stored now: the 9 that reach the storage run again (and are skipped)
    statuses = list(Task.objects.filter(run=run).order_by("pk").values_list("status", flat=True))
    assert statuses == ["new"] * 9 + ["skipped"] + ["skipped"] * 10


def test_a_chain_reading_its_own_write_and_an_unknown_storage_behave_as_entity_by_entity(make_route):
    Storage.objects.create(name="names")
    route, broken = make_route(), make_route()
    route.set_transformers([Transformer.objects.create(name="names", steps=[
        {"type": "storage_save", "params": {"store": "names", "key": "&{ID}", "source": "Name"}},
        {"type": "storage_get", "params": {"store": "names", "key": "&{ID}", "target": "stored"}},
    ])])
    broken.set_transformers([Transformer.objects.create(name="typo", steps=[
        {"type": "storage_save", "params": {"store": "nope", "key": "&{ID}"}}])])
    entities = [{"ID": "a", "Name": "A"}, {"ID": "b", "Name": "B"}]
    for each in (route, broken):
        run = Run.objects.create(incoming=each.incoming, status=Run.Status.READING)
        _save(each, run, _page(entities))
    made = Task.objects.filter(run__incoming=route.incoming).order_by("pk")
    assert [(t.status, t.transformed) for t in made] == [("new", {**e, "stored": e["Name"]}) for e in entities]
    assert dict(StorageEntry.objects.values_list("key", "value")) == {"a": "A", "b": "B"}
    failed = Task.objects.filter(run__incoming=broken.incoming)
    assert [t.status for t in failed] == ["failed", "failed"]
    assert all("storage 'nope' does not exist" in t.error for t in failed)
