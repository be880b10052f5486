"""Fixtures for Incoming tests: an own sandbox (heavy data stays out of the shared one) and a granted client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.models import HttpClient
from connections.models import Incoming
from tests.fixtures.sandbox import Sandbox, grant_client, start_sandbox

DIVISION = 101001
ACCOUNTS = 10_000


@pytest.fixture(scope="session")
def big_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox of these tests' own (one per session): 10,000 more Accounts in 101001, no minutely limit.

    The seeded demo Accounts are there too; tests count what the sandbox says it holds.
    """
    box = start_sandbox(Path(tmp_path_factory.mktemp("incoming-sandbox")))
    box.set_limits(minutely=100_000, daily=1_000_000)
    box.generate("Accounts", ACCOUNTS, DIVISION)
    yield box
    box.stop()


@pytest.fixture
def exact_client(db, big_sandbox: Sandbox) -> HttpClient:
    return grant_client(big_sandbox)


def make_incoming(client: HttpClient, *, entity: str = "crm/Accounts", endpoint: str = "auto",
                  incremental: bool = False, query: dict[str, str] | None = None, name: str = "Accounts",
                  page_cap: int | None = None, pagination: bool = True, **fields) -> Incoming:
    return Incoming.objects.create(
        name=name, subscriber="exact_online", http_client=client, incremental=incremental, page_cap=page_cap,
        pagination=pagination, query=query or {},
        config={"entity": entity, "endpoint": endpoint, "divisions": "selected", "division_codes": [DIVISION]},
        **fields,
    )
