"""The scheduled upkeep: keep-alive of idle grants, pruning logs after the retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clients.models import AuthEvent, OAuthGrant, RequestLog
from clients.tasks import keep_alive, keep_alive_idle_grants, prune_logs, prune_old_logs

from .oauth_helpers import grant, make_client, sandbox_client

pytestmark = pytest.mark.django_db


def test_prune_deletes_only_entries_older_than_the_retention(settings):
    settings.CLIENTS_LOG_RETENTION_DAYS = 30
    client = make_client("https://start.exactonline.nl")
    old_event = AuthEvent.record(client, "refreshed", "old")
    AuthEvent.record(client, "refreshed", "new")
    old_log = RequestLog.objects.create(client=client, method="GET", url="u", status=200)
    RequestLog.objects.create(client=client, method="GET", url="u", status=200)
    long_ago = timezone.now() - timedelta(days=31)
    AuthEvent.objects.filter(pk=old_event.pk).update(created_at=long_ago)
    RequestLog.objects.filter(pk=old_log.pk).update(created_at=long_ago)
    assert prune_logs() == {"request_logs": 1, "auth_events": 1}
    assert list(AuthEvent.objects.values_list("message", flat=True)) == ["new"]
    assert prune_old_logs(days=0) == {"request_logs": 1, "auth_events": 1}


def test_keep_alive_refreshes_only_idle_grants(editor_client, sandbox_factory):
    sandbox = sandbox_factory()
    idle, app = sandbox_client(sandbox, name="Idle")
    grant(editor_client, idle, sandbox, app)
    busy, app2 = sandbox_client(sandbox, name="Busy")
    grant(editor_client, busy, sandbox, app2)
    # 21 days without using the refresh token (Exact's expire after 30), and the access token is long dead
    sandbox.advance_clock(21 * 86400)
    OAuthGrant.objects.filter(client=idle).update(refresh_used_at=timezone.now() - timedelta(days=21),
                                                  issued_at=timezone.now() - timedelta(days=21),
                                                  expires_at=timezone.now() - timedelta(days=21))
    assert keep_alive() == {"refreshed": 1, "failed": 0}
    assert OAuthGrant.objects.get(client=idle).refresh_count == 1
    assert OAuthGrant.objects.get(client=busy).refresh_count == 0
    assert AuthEvent.objects.filter(client=idle, event="keepalive").exists()
    assert keep_alive_idle_grants() == {"refreshed": 0, "failed": 0}  # now fresh
