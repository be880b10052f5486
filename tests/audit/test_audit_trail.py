"""The audit trail: an Editor's changes through the real views are recorded with who, where and the diff;
secrets only ever as "changed" (a canary secret appears in no row, page or CSV); sign-ins; filters; pruning."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from audit.tasks import prune_audit_trail
from connections.models import Transformer
from tests.connections.routes.test_route_pages import route_form
from tests.connections.transformers.helpers import step
from tests.connections.transformers.test_transformer_views import _fields
from tests.webhooks.test_webhook_pages import _form as webhook_form

pytestmark = pytest.mark.django_db

CANARY = "canary-Zx81-secret-never-audited"


def test_an_editors_transformer_and_route_edits_are_recorded_with_diffs(editor_client, editor_user, make_route):
    chain = [step("move", source="Naam", target="Name")]
    transformer = Transformer.objects.create(name="Accounts out", steps=chain)
    new_chain = [*chain, step("cast", path="Modified", to="date")]
    data = {"name": "Accounts shaped", "description": "", **_fields(new_chain)}
    response = editor_client.post(reverse("connections:transformer_edit", args=[transformer.pk]), data,
                                  REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302
    entry = AuditEntry.objects.filter(object_type="connections.transformer", action="update").get()
    assert (entry.username, entry.user, entry.ip) == ("eddie-editor", editor_user, "203.0.113.9")
    assert entry.changes["name"] == ["Accounts out", "Accounts shaped"]
    assert entry.changes["steps"][0] == chain and entry.changes["steps"][1][1]["type"] == "cast"

    route = make_route()
    edit = route_form(route, make_route, name=route.name, incoming=route.incoming_id, outgoing=route.outgoing_id,
                      max_attempts=3, transformer_1=transformer.pk)
    assert editor_client.post(reverse("connections:route_edit", args=[route.pk]), edit).status_code == 302
    entries = AuditEntry.objects.filter(object_type="connections.route", object_id=str(route.pk), action="update")
    changes: dict = {}
    for row in entries:
        assert row.username == "eddie-editor"
        changes.update(row.changes)
    assert changes["max_attempts"] == [5, 3]
    assert changes["schedule_kind"] == ["none", "cron"]
    assert changes["transformers"] == [[], [f"Accounts shaped (#{transformer.pk})"]]

    # Saving again unchanged records nothing.
    before = AuditEntry.objects.count()
    editor_client.post(reverse("connections:route_edit", args=[route.pk]), edit)
    assert AuditEntry.objects.count() == before


def test_a_secret_change_shows_only_changed_and_the_canary_is_nowhere(editor_client, admin_client, make_route):
    route = make_route()
    assert editor_client.post(reverse("webhooks:create"), webhook_form(routes=[route.pk])).status_code == 302
    hook_entry = AuditEntry.objects.get(object_type="webhooks.webhook", action="create")
    assert hook_entry.changes["secret:hmac_secret"] == "changed"
    hook_id = hook_entry.object_id
    response = editor_client.post(reverse("webhooks:edit", args=[hook_id]),
                                  webhook_form(hmac_secret=CANARY, routes=[route.pk]))
    assert response.status_code == 302
    entry = AuditEntry.objects.filter(object_type="webhooks.webhook", action="update").get()
    assert entry.changes == {"secret:hmac_secret": "changed"}

    rows = "\n".join(repr(list(AuditEntry.objects.values_list())) for _ in [0])
    from audit.models import TRACKED
    from webhooks.models import Webhook

    history_rows = repr(list(TRACKED and Webhook.history.values()))  # type: ignore[attr-defined]
    pages = [admin_client.get(reverse("audit:list")).content.decode(),
             admin_client.get(reverse("audit:list"), {"object_type": "webhooks.webhook"}).content.decode(),
             b"".join(admin_client.get(reverse("audit:csv")).streaming_content).decode()]
    assert "changed" in pages[0] and "secret:hmac_secret" in pages[2]
    for text in (rows, history_rows, *pages):
        assert CANARY not in text


def test_sign_in_failed_sign_in_and_sign_out_are_recorded(client, editor_user):
    client.post("/accounts/login/", {"login": "eddie-editor", "password": "wrong-password"})
    client.post("/accounts/login/", {"login": "eddie-editor", "password": "correct-horse-battery-staple"})
    client.post("/accounts/logout/")
    actions = list(AuditEntry.objects.exclude(action="create").order_by("at", "pk").values_list("action", "username"))
    assert actions == [("login_failed", "eddie-editor"), ("login", "eddie-editor"), ("logout", "eddie-editor")]
    assert "wrong-password" not in repr(list(AuditEntry.objects.values_list()))


def test_filters_csv_and_access(admin_client, editor_client, editor_user):
    Transformer.objects.create(name="one")
    AuditEntry.objects.create(action="login", username="someone")
    assert editor_client.get(reverse("audit:list")).status_code == 403
    page = admin_client.get(reverse("audit:list"), {"action": "login"}).content.decode()
    assert "someone" in page and ">one</a>" not in page
    page = admin_client.get(reverse("audit:list"), {"object_type": "connections.transformer"}).content.decode()
    assert "someone" not in page and ">one</a>" in page
    csv_text = b"".join(admin_client.get(reverse("audit:csv"), {"user": "someone"}).streaming_content).decode()
    assert csv_text.splitlines()[0].startswith("at,user,ip,action") and len(csv_text.splitlines()) == 2


def test_pruning_keeps_the_newest_version_of_each_object():
    transformer = Transformer.objects.create(name="old", steps=[])
    transformer.name = "older"
    transformer.save()
    long_ago = timezone.now() - timedelta(days=400)
    Transformer.history.update(history_date=long_ago)  # type: ignore[attr-defined]
    AuditEntry.objects.update(at=long_ago)
    result = prune_audit_trail(days=365)
    assert result == {"entries": 2, "versions": 1}
    assert Transformer.history.count() == 1  # type: ignore[attr-defined]


def test_two_factor_changes_are_recorded(rf, editor_user):
    from types import SimpleNamespace

    from allauth.mfa import signals

    request = rf.post("/accounts/2fa/totp/activate", REMOTE_ADDR="198.51.100.7")
    request.user = editor_user
    signals.authenticator_added.send(sender=type(editor_user), request=request, user=editor_user,
                                     authenticator=SimpleNamespace(type="totp"))
    signals.authenticator_removed.send(sender=type(editor_user), request=request, user=editor_user,
                                       authenticator=SimpleNamespace(type="totp"))
    rows = list(AuditEntry.objects.filter(action="two_factor").order_by("pk").values_list("username", "ip", "message"))
    assert rows == [("eddie-editor", "198.51.100.7", "Authenticator added: totp"),
                    ("eddie-editor", "198.51.100.7", "Authenticator removed: totp")]
