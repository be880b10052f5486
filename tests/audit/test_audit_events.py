"""Events that are no model save: runs started by hand, task bulk actions, grants and revocations."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from clients.models import AuthEvent

pytestmark = pytest.mark.django_db


def test_run_now_and_a_bulk_action_are_recorded(editor_client, make_route, make_run):
    route = make_route()
    make_run(route, 2, status="succeeded")
    assert editor_client.post(reverse("connections:route_run", args=[route.pk])).status_code == 302
    run = AuditEntry.objects.get(action="run")
    assert (run.username, run.object_type, run.object_id) == ("eddie-editor", "connections.route", str(route.pk))
    editor_client.post(reverse("connections:task_bulk"), {"action": "delete", "route": str(route.pk)})
    bulk = AuditEntry.objects.get(action="bulk")
    assert bulk.changes["action"] == "delete" and bulk.message.startswith("delete: ")


def test_grants_and_revocations_from_the_auth_log_are_recorded(editor_user, make_route):
    client = make_route().incoming.http_client
    AuthEvent.record(client, AuthEvent.Event.GRANTED, "Access granted as demo", user=editor_user)
    AuthEvent.record(client, AuthEvent.Event.REFRESHED, "refreshed")
    AuthEvent.record(client, AuthEvent.Event.REVOKED, "Tokens deleted.", user=editor_user)
    rows = list(AuditEntry.objects.filter(object_type="clients.httpclient", action__in=["grant", "revoke"])
                .order_by("pk").values_list("action", "username", "object_id"))
    assert rows == [("grant", "eddie-editor", str(client.pk)), ("revoke", "eddie-editor", str(client.pk))]
