"""Entities stream through in pages: a run holds a page or two, never the whole read.

The HTTP layer is faked with pages generated on the fly. This checks the mechanism at a small scale (pages
are pulled as they are needed and released once read); the memory measurement from 10,000 to 100,000
records is ``bench/bench_subscriber_memory.py`` (the sandbox version is ``bench/bench_incoming.py``).
"""

from __future__ import annotations

import gc
import uuid
import weakref
from dataclasses import dataclass

import pytest

from clients.models import HttpClient
from connections.flow.read import Skip, execute_incoming_run
from connections.models import Incoming, Run
from exact_online.subscriber import ExactSubscriber

pytestmark = pytest.mark.django_db

PAGES = 3
ROWS = 1000


class Row(dict):
    """A row of a generated page that can be watched with a weak reference."""


@dataclass
class FakePage:
    results: list
    next_url: str | None


class GeneratedApi:
    """Generates pages lazily and keeps a weak reference to every page's rows, to see which are still held."""

    def __init__(self, pages: int, keep: bool = False) -> None:
        self.pages = pages
        self.generated = 0
        self.rows: list[list[weakref.ref]] = []
        self.kept: list[FakePage] = []  # keep=True: hold every page (what the test must catch)
        self.keep = keep

    def iter_pages(self, path, *, division, params, max_pages):
        for n in range(self.pages):
            rows = [Row(ID=str(uuid.uuid4()), Name=f"Account {n}-{i}", Timestamp=n * ROWS + i + 2)
                    for i in range(ROWS)]
            self.rows.append([weakref.ref(row) for row in rows])
            self.generated += 1
            page = FakePage(rows, f"http://x/next/{n}" if n + 1 < self.pages else None)
            if self.keep:
                self.kept.append(page)
            yield page

    def pages_alive(self) -> int:
        gc.collect()
        return sum(any(ref() is not None for ref in refs) for refs in self.rows)


def read_all(monkeypatch, api: GeneratedApi) -> list[tuple[int, int, int]]:
    """Run an Incoming over ``api``; for the first entity of every page: (page, pages generated, pages alive)."""
    monkeypatch.setattr(ExactSubscriber, "api", lambda self: api)
    client = HttpClient.objects.create(name="c", kind="exact_online",
                                       config={"base_url": "http://x", "client_id": "y"})
    incoming = Incoming.objects.create(
        name="stream", subscriber="exact_online", http_client=client, query={"$select": "ID,Name"},
        config={"entity": "crm/Accounts", "endpoint": "sync", "divisions": "selected", "division_codes": [1]})
    run, _ = Run.enqueue(incoming)
    seen: list[tuple[int, int, int]] = []
    count = 0

    def transform(entity):
        nonlocal count
        count += 1
        page, row = (int(part) for part in entity["Name"].removeprefix("Account ").split("-"))
        if row == 0:
            seen.append((page, api.generated, api.pages_alive()))
        return Skip("counted only")

    done = execute_incoming_run(run.pk, transform=transform)
    assert done.status == Run.Status.SUCCEEDED, done.error
    assert done.entities_read == count == api.pages * ROWS
    return seen


def test_pages_are_pulled_as_needed_and_released_once_read(monkeypatch):
    seen = read_all(monkeypatch, GeneratedApi(PAGES))
    assert [page for page, _, _ in seen] == list(range(PAGES))
    for page, generated, alive in seen:
        assert generated <= page + 2, f"page {page}: {generated} pages already fetched (not streaming)"
        assert alive <= 2, f"page {page}: {alive} pages still held in memory"


def test_the_check_catches_a_reader_that_holds_every_page(monkeypatch):
    seen = read_all(monkeypatch, GeneratedApi(PAGES, keep=True))
    assert seen[-1][2] == PAGES  # the weak references do see pages that are held
