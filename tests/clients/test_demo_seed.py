"""The demo seed registers an app in the sandbox and creates the "Exact Online sandbox" HTTP client once."""

from __future__ import annotations

import pytest

from clients.models import HttpClient
from exact_online.seed import SANDBOX_CLIENT_NAME, seed_sandbox_client

pytestmark = pytest.mark.django_db


def test_seed_creates_the_sandbox_client_once(settings, tmp_path):
    settings.SANDBOX_DB_PATH = str(tmp_path / "sandbox.sqlite3")
    settings.SANDBOX_URL = "http://127.0.0.1:8001"
    lines = seed_sandbox_client()
    client = HttpClient.objects.get()
    assert client.name == SANDBOX_CLIENT_NAME and SANDBOX_CLIENT_NAME in lines[0]
    assert client.config["base_url"] == "http://127.0.0.1:8001" and client.kind == "exact_online"
    assert len(client.config["client_id"]) == 36 and client.get_secret("client_secret")
    assert client.get_secret("webhook_secret")
    assert seed_sandbox_client() == ["HTTP clients exist already; no demo client created."]
    assert HttpClient.objects.count() == 1
