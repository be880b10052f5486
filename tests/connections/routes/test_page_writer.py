"""The reader saves page N in a thread of its own while it transforms page N+1 (``PageWriter``): pages commit in
order, one at a time; a save's error stops the read with nothing after it saved, and a resumed read saves every
record once; a key stored by page N is seen by page N+1's "unchanged" step even before page N commits."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection

from connections.flow import read, routing
from connections.flow.overlap import PageWriter
from connections.flow.read import _read_division, subscriber_for
from connections.models import Run, Storage, StorageEntry, Task, Transformer
from connections.storage_service import DatabaseStorage
from connections.subscribers import Page, ResumePoint

SKIP_SEEN = [{"type": "skip_unchanged", "params": {"store": "seen", "key": "&{ID}"}}]


# --- the writer alone ---------------------------------------------------------------------------------


@pytest.mark.parametrize("in_thread", [True, False])
def test_pages_are_saved_in_order_one_at_a_time(in_thread):
    events: list[tuple[str, int]] = []

    def save(page: int) -> None:
        events.append(("start", page))
        time.sleep(0.02)
        events.append(("end", page))

    writer: PageWriter[int] = PageWriter(save, in_thread=in_thread)
    told = []
    for page in range(1, 6):
        told.append(writer.wait())
        assert ("end", page - 1) in events or page == 1  # the page before is committed when it is told
        writer.put(page)
    told.append(writer.wait())
    writer.close()
    assert told == [None, 1, 2, 3, 4, 5]
    assert events == [(kind, page) for page in range(1, 6) for kind in ("start", "end")]


def test_the_page_is_saved_in_another_thread_while_the_caller_goes_on():
    started = threading.Event()
    release = threading.Event()
    threads: list[str] = []

    def save(page: int) -> None:
        threads.append(threading.current_thread().name)
        started.set()
        assert release.wait(5)

    writer: PageWriter[int] = PageWriter(save, in_thread=True)
    writer.put(1)
    assert started.wait(5)  # put returned while page 1 is still being saved
    release.set()
    assert writer.wait() == 1
    writer.close()
    assert threads == ["page-writer"]


def test_a_save_error_is_raised_in_the_callers_thread_and_nothing_after_it_is_saved():
    saved: list[int] = []

    def save(page: int) -> None:
        if page == 2:
            raise RuntimeError("the database went away")
        saved.append(page)

    before = threading.active_count()
    writer: PageWriter[int] = PageWriter(save, in_thread=True)
    writer.put(1)
    writer.put(2)
    with pytest.raises(RuntimeError, match="went away"):
        writer.put(3)
    writer.close()
    assert saved == [1]
    assert threading.active_count() == before


def test_closing_waits_for_the_page_being_saved():
    saved: list[int] = []
    writer: PageWriter[int] = PageWriter(lambda page: (time.sleep(0.1), saved.append(page)), in_thread=True)
    writer.put(1)
    writer.close()
    assert saved == [1]


def test_the_next_page_reads_the_entries_of_a_page_not_committed_yet(db):
    Storage.objects.create(name="seen")
    storage = DatabaseStorage()
    storage.begin_page([("seen", "a")])
    storage.set_hash("seen", "a", "h1")
    write = storage.take_page()  # handed to the writer, not written yet
    storage.begin_page([("seen", "a"), ("seen", "b")])
    assert storage.has_hash("seen", "a", "h1")
    assert not storage.has_hash("seen", "b", "h1")
    assert not StorageEntry.objects.exists()
    assert write() == 1
    assert StorageEntry.objects.get(key="a").content_hash == "h1"


# --- a route's read, end to end (in the writer's thread on PostgreSQL, one after the other on SQLite) ----------


class PagedSubscriber:
    """Pages of ``pages`` entities each, named page-N; a resumed read starts at its checkpoint's page."""

    def __init__(self, incoming: Any, pages: list[list[dict[str, Any]]]) -> None:
        self.incoming = incoming
        self.pages = pages
        self.identifier = subscriber_for(incoming).identifier

    def read(self, division: Any, *, resume: ResumePoint | None = None, **_: Any):
        first = resume.page + 1 if resume else 1
        for number in range(first, len(self.pages) + 1):
            last = number == len(self.pages)
            yield Page(division=division, number=number, entities=[dict(e) for e in self.pages[number - 1]],
                       next_url=None if last else f"page-{number + 1}", endpoint="crm/Accounts")


def _accounts(*ids: int) -> list[dict[str, Any]]:
    return [{"ID": f"id-{n}", "Name": f"Account {n}"} for n in ids]


@pytest.fixture
def seen_route(make_route):
    Storage.objects.create(name="seen")
    route = make_route()
    route.set_transformers([Transformer.objects.create(name="changed", steps=SKIP_SEEN)])
    return route


def _read(route, run: Run, subscriber: PagedSubscriber) -> None:
    _read_division(run, subscriber, 1, request_hook=None, transform=routing.chain_transform(route), on_page=None,
                   queue=None)


@pytest.mark.django_db(transaction=True)
def test_a_key_stored_by_the_page_being_saved_is_unchanged_on_the_next(seen_route, monkeypatch):
    real = read.insert_rows
    writers: list[str] = []

    def slow_insert(*args: Any, **kwargs: Any) -> Any:
        writers.append(threading.current_thread().name)
        time.sleep(0.3)  # page 2 is transformed before page 1 commits
        return real(*args, **kwargs)

    monkeypatch.setattr(read, "insert_rows", slow_insert)
    run = Run.objects.create(incoming=seen_route.incoming, status=Run.Status.READING)
    _read(seen_route, run, PagedSubscriber(seen_route.incoming, [_accounts(1, 2), _accounts(2, 3), _accounts(3, 1)]))
    statuses = [(t.identifier, t.status) for t in Task.objects.filter(run=run).order_by("pk")]
    assert statuses == [("id-1", "new"), ("id-2", "new"), ("id-2", "skipped"), ("id-3", "new"), ("id-3", "skipped"),
                        ("id-1", "skipped")]
    if connection.vendor == "postgresql":
        assert writers == ["page-writer"] * 3


@pytest.mark.django_db(transaction=True)
def test_a_failed_save_keeps_the_pages_before_it_and_a_resumed_read_saves_each_record_once(seen_route,
                                                                                             monkeypatch):
    real = read.insert_rows
    calls = {"n": 0}

    def failing_on_page_3(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(read, "insert_rows", failing_on_page_3)
    pages = [_accounts(n, n + 1) for n in range(1, 11, 2)]  # five pages, ten accounts
    subscriber = PagedSubscriber(seen_route.incoming, pages)
    run = Run.objects.create(incoming=seen_route.incoming, status=Run.Status.READING)
    with pytest.raises(RuntimeError, match="went away"):
        _read(seen_route, run, subscriber)
    run.refresh_from_db()
    assert run.pages == 2 and run.checkpoint["1"]["page"] == 2
    assert Task.objects.filter(run=run).count() == 4  # nothing of page 3, nor of page 4 (transformed meanwhile)
    assert StorageEntry.objects.count() == 4  # the hashes of pages 1 and 2 only
    resumed = run.resume()
    resumed.status = Run.Status.READING
    resumed.save()
    _read(seen_route, resumed, subscriber)
    ids = list(Task.objects.filter(run__in=[run, resumed]).values_list("identifier", flat=True))
    assert sorted(ids) == sorted(f"id-{n}" for n in range(1, 11))
    assert set(Task.objects.values_list("status", flat=True)) == {"new"}
    resumed.refresh_from_db()
    assert resumed.checkpoint["1"]["done"] and resumed.pages == 3
