"""A dry run shows what the route would publish for a sample of the Incoming; it writes nothing."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from connections.models import StorageEntry, Task

from .sandbox_support import copy_route


def _writes_since(sandbox, since: float) -> int:
    return sum(1 for r in sandbox.requests_log() if r.get("at", 0) >= since
               and r.get("method") in ("POST", "PUT", "DELETE") and "/api/v1/" in r.get("path", ""))


@pytest.mark.django_db
def test_dry_run_shows_payloads_without_writing(sandbox, granted_client, editor_client):
    source, target = sandbox.divisions
    route = copy_route(granted_client, source, target, name="dry run copy")
    since = time.time()
    url = reverse("connections:route_dry_run", args=[route.pk])
    posted = editor_client.post(url, {"limit": 3})  # the old form: sent on to the page of its own
    assert posted.status_code == 302 and posted["Location"] == f"{url}?limit=3"
    response = editor_client.get(f"{url}?limit=3")  # a page with its own URL: reloadable, linkable
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('data-testid="dry-run-row"') == 3
    assert "would publish" in page.lower() and f"PUT if found, else POST crm/Accounts (division {target})" in page
    assert "Payload that would be published" in page
    assert any(r.get("at", 0) >= since for r in sandbox.requests_log())  # it did read from Exact...
    assert _writes_since(sandbox, since) == 0  # ...and wrote nothing
    assert not StorageEntry.objects.exists()  # nothing remembered as "seen"
    assert not Task.objects.exists()
    assert route.runs.count() == 0
