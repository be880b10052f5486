"""Entities stream through in pages: the memory a run holds does not grow with the number of records.

The HTTP layer is faked with pages generated on the fly (the sandbox version is ``bench/bench_incoming.py``)."""

from __future__ import annotations

import tracemalloc
import uuid
from dataclasses import dataclass

import pytest

from clients.models import HttpClient
from connections.flow.read import Skip, execute_incoming_run
from connections.models import Incoming, Run
from exact_online.subscriber import ExactSubscriber

pytestmark = pytest.mark.django_db


@dataclass
class FakePage:
    results: list
    next_url: str | None


class GeneratedApi:
    def __init__(self, pages: int) -> None:
        self.pages = pages

    def iter_pages(self, path, *, division, params, max_pages):
        for n in range(self.pages):
            rows = [{"ID": str(uuid.uuid4()), "Name": f"Account {n}-{i}" * 3, "Timestamp": n * 1000 + i + 2}
                    for i in range(1000)]
            yield FakePage(rows, f"http://x/next/{n}" if n + 1 < self.pages else None)


def peak_of_a_run(monkeypatch, pages: int) -> tuple[int, int]:
    monkeypatch.setattr(ExactSubscriber, "api", lambda self: GeneratedApi(pages))
    client = HttpClient.objects.create(name=f"c{pages}", kind="exact_online",
                                       config={"base_url": "http://x", "client_id": "y"})
    incoming = Incoming.objects.create(
        name=f"stream {pages}", subscriber="exact_online", http_client=client, query={"$select": "ID,Name"},
        config={"entity": "crm/Accounts", "endpoint": "sync", "divisions": "selected", "division_codes": [1]})
    run, _ = Run.enqueue(incoming)
    seen = []
    tracemalloc.start()
    try:
        done = execute_incoming_run(run.pk, transform=lambda entity: seen.append(1) or Skip("counted only"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert done.status == Run.Status.SUCCEEDED, done.error
    assert done.entities_read == len(seen) == pages * 1000
    return peak, done.entities_read


def test_memory_stays_flat_from_10_000_to_100_000_records(monkeypatch):
    small, _ = peak_of_a_run(monkeypatch, 10)
    large, read = peak_of_a_run(monkeypatch, 100)
    assert read == 100_000
    assert large < small * 1.5 + 1_000_000, (small, large)
    assert large < 20_000_000  # a page or two, never the whole read
