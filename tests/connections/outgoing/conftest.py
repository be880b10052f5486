"""Outgoing fixtures: an HTTP client row (no grant needed: these pages never call Exact)."""

from __future__ import annotations

import pytest

from clients.models import HttpClient


@pytest.fixture
def http_client(db) -> HttpClient:
    return HttpClient.objects.create(name="Exact NL", kind="exact_online", config={"base_url": "http://x"})
