"""Each channel delivers its real payload shape to a local HTTP server (the receiver) or Django's locmem mail
backend; a broken channel is recorded and the others still get the message; the webhook URL stays secret."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from alerts.engine import evaluate, send_test
from alerts.models import Channel, Notification, Rule
from clients.models import HttpClient


def _hook(kind: str, url: str, name: str | None = None) -> Channel:
    channel = Channel(name=name or kind, kind=kind)
    channel.set_secrets({"url": url})
    channel.save()
    return channel


@pytest.fixture
def email_backend(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.mark.django_db
def test_slack_teams_and_generic_json_get_their_payload_shapes(receiver):
    for kind in (Channel.Kind.SLACK, Channel.Kind.TEAMS, Channel.Kind.WEBHOOK):
        assert send_test(_hook(kind, receiver.url)).ok
    slack, teams, generic = [json.loads(b) for b in receiver.wait_for(3)]
    assert slack["text"].startswith("[TEST]") and slack["blocks"][0]["type"] == "section"
    assert "<http" in slack["blocks"][0]["text"]["text"]  # mrkdwn link to the product
    card = teams["attachments"][0]
    assert teams["type"] == "message" and card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and card["content"]["actions"][0]["type"] == "Action.OpenUrl"
    assert generic["event"] == "test" and generic["subject"].startswith("Test message") and generic["url"]
    assert all(h["content-type"] == "application/json" for h, _ in receiver.received)


@pytest.mark.django_db
def test_email_goes_through_the_mail_backend(email_backend):
    channel = Channel.objects.create(name="ops", kind=Channel.Kind.EMAIL, recipients="a@example.com, b@example.com")
    assert send_test(channel).ok
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["a@example.com", "b@example.com"]
    assert mail.outbox[0].subject.startswith("[TEST]")


@pytest.mark.django_db
def test_a_broken_channel_is_recorded_and_does_not_block_the_others(receiver, email_backend):
    good_hook = _hook(Channel.Kind.WEBHOOK, receiver.url, "good hook")
    dead = _hook(Channel.Kind.SLACK, "http://127.0.0.1:9/services/T000/B000/secret-token", "dead slack")
    mail_channel = Channel.objects.create(name="ops mail", kind=Channel.Kind.EMAIL, recipients="ops@example.com")
    rule = Rule.objects.create(name="reconnect", kind=Rule.Kind.CLIENT_RECONNECT)
    rule.channels.add(dead, good_hook, mail_channel)
    client = HttpClient.objects.create(name="Exact", kind="exact_online", config={})
    client.mark_needs_reconnect("refused")

    assert evaluate()["fired"] == 1
    assert len(receiver.wait_for(1)) == 1 and len(mail.outbox) == 1
    failed = Notification.objects.get(channel=dead)
    assert not failed.ok and failed.error
    assert "secret-token" not in failed.error  # the URL's token is never shown
    dead.refresh_from_db()
    assert dead.is_broken and "secret-token" not in dead.last_error
    assert Notification.objects.filter(ok=True).count() == 2


@pytest.mark.django_db
def test_an_answer_other_than_2xx_is_a_failure(receiver):
    channel = _hook(Channel.Kind.WEBHOOK, receiver.url.replace("/hook", "/missing"))
    receiver.server.RequestHandlerClass.do_POST = lambda self: (self.send_response(404), self.end_headers())
    result = send_test(channel)
    assert not result.ok and "HTTP 404" in result.error


@pytest.mark.django_db
def test_the_webhook_url_is_encrypted_at_rest_and_never_rendered(editor_client):
    url = "https://hooks.slack.com/services/T000/B000/xoxb-very-secret"
    response = editor_client.post("/alerts/channels/create/", {"name": "slack", "kind": "slack", "enabled": "on",
                                                                "url": url})
    assert response.status_code == 302
    channel = Channel.objects.get(name="slack")
    assert channel.get_secret("url") == url
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM alerts_channel WHERE id = %s", [channel.pk])
        assert "very-secret" not in cursor.fetchone()[0]
    for page in ("/alerts/channels/", f"/alerts/channels/{channel.pk}/edit/"):
        assert "very-secret" not in editor_client.get(page).content.decode()
    # Saving without a URL keeps the stored one.
    editor_client.post(f"/alerts/channels/{channel.pk}/edit/", {"name": "slack", "kind": "slack", "enabled": "on"})
    channel.refresh_from_db()
    assert channel.get_secret("url") == url


@pytest.mark.django_db
def test_the_daily_digest_goes_to_channels_that_asked_for_it(email_backend):
    from alerts.engine import send_digest
    from alerts.models import Alert

    Channel.objects.create(name="digest", kind=Channel.Kind.EMAIL, recipients="d@example.com", daily_digest=True)
    Channel.objects.create(name="no digest", kind=Channel.Kind.EMAIL, recipients="n@example.com")
    rule = Rule.objects.create(name="r", kind=Rule.Kind.RUN_FAILED)
    Alert.objects.create(rule=rule, key="route:1", subject="Route A: run 3 failed",
                         opened_at=timezone.now() - timedelta(hours=2))
    assert send_digest() == 1
    assert mail.outbox[0].to == ["d@example.com"] and "Route A: run 3 failed" in mail.outbox[0].body


@pytest.mark.django_db
def test_alert_configuration_is_in_the_audit_trail_with_the_url_only_as_changed(editor_client):
    from audit.models import AuditEntry

    url = "https://hooks.slack.com/services/T000/B000/canary-token-1"
    editor_client.post("/alerts/channels/create/", {"name": "slack", "kind": "slack", "enabled": "on", "url": url})
    channel = Channel.objects.get(name="slack")
    editor_client.post(f"/alerts/channels/{channel.pk}/edit/", {"name": "slack ops", "kind": "slack", "enabled": "on",
                                                                 "url": url.replace("-1", "-2")})
    entry = AuditEntry.objects.get(object_type="alerts.channel", action="update")
    assert entry.changes["name"] == ["slack", "slack ops"] and entry.changes["secret:url"] == "changed"
    assert "canary-token" not in repr(list(AuditEntry.objects.values_list()))
    editor_client.post("/alerts/rules/create/", {"name": "failed runs", "kind": "run_failed", "repeat_minutes": 60,
                                                 "channels": [channel.pk], "enabled": "on"})
    assert AuditEntry.objects.filter(object_type="alerts.rule", action="create").exists()


@pytest.mark.django_db
def test_a_channel_cannot_reach_a_private_address_unless_allowed(settings, receiver):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    settings.OUTBOUND_ALLOWED_HOSTS = []
    result = send_test(_hook(Channel.Kind.WEBHOOK, receiver.url))
    assert not result.ok and "private" in result.error.lower() and not receiver.received
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    assert send_test(_hook(Channel.Kind.WEBHOOK, receiver.url, "allowed")).ok


def test_alert_pages_show_moments_in_the_one_site_format(editor_client):
    rule = Rule.objects.create(name="r", kind=Rule.Kind.RUN_FAILED)
    alert = rule.alerts.create(key="k", subject="Route failed", resolved_at=timezone.now())
    Notification.objects.create(alert=alert, channel_name="slack", event=Notification.Event.values[0])
    for page in ("/alerts/", f"/alerts/{alert.pk}/"):
        html = editor_client.get(page).content.decode()
        assert '<time datetime="' in html, page  # the shared |when filter, not a page's own date format
