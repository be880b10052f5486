"""A dry run shows what the route would publish for a sample of the Incoming; it writes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from connections.models import StorageEntry, Task

from .sandbox_support import copy_route, granted_client


def _writes(sandbox) -> int:
    return sum(1 for r in sandbox.requests_log() if r.get("method") in ("POST", "PUT", "DELETE")
               and "/api/v1/" in r.get("path", ""))


@pytest.mark.django_db
def test_dry_run_shows_payloads_without_writing(sandbox, editor_client):
    source, target = sandbox.divisions
    client = granted_client(sandbox, "dry run")
    route = copy_route(client, source, target, name="dry run copy")
    writes = _writes(sandbox)
    response = editor_client.post(reverse("connections:route_dry_run", args=[route.pk]), {"limit": 3})
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('data-testid="dry-run-row"') == 3
    assert "would publish" in page.lower() and f"PUT if found, else POST crm/Accounts (division {target})" in page
    assert "Payload that would be published" in page
    assert _writes(sandbox) == writes  # nothing written to Exact
    assert not StorageEntry.objects.exists()  # nothing remembered as "seen"
    assert not Task.objects.exists()
    assert route.runs.count() == 0
