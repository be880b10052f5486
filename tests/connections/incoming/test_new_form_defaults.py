"""New Incoming/Outgoing forms start from what the data allows: the only HTTP client, incremental Exact reads."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import HttpClient
from connections.forms.incoming import IncomingForm
from connections.forms.outgoing import OutgoingForm
from connections.models import Incoming, Outgoing, Route
from connections.subscribers import get_subscriber


@pytest.mark.django_db
def test_the_only_http_client_is_preselected_and_exact_reads_are_incremental():
    only = HttpClient.objects.create(name="only one", kind="exact_online", config={})
    incoming = IncomingForm(initial={"subscriber": "exact_online"})
    assert incoming.initial["http_client"] == only.pk
    assert incoming.initial["incremental"] is True  # the Exact subscriber's own declaration
    assert get_subscriber("exact_online").incremental_by_default
    assert OutgoingForm().initial["http_client"] == only.pk
    HttpClient.objects.create(name="a second", kind="exact_online", config={})
    assert "http_client" not in IncomingForm().initial and "http_client" not in OutgoingForm().initial


@pytest.mark.django_db
def test_a_scheduled_route_over_a_full_read_of_exact_warns(editor_client):
    client = HttpClient.objects.create(name="c", kind="exact_online", config={})
    incoming = Incoming.objects.create(name="everything", subscriber="exact_online", http_client=client,
                                       incremental=False)
    outgoing = Outgoing.objects.create(name="out", publisher="exact_online", action="create", entity="crm/Accounts",
                                       http_client=client)
    response = editor_client.post(reverse("connections:route_create"), {
        "name": "every five minutes", "incoming": incoming.pk, "outgoing": outgoing.pk, "enabled": "on",
        "max_attempts": 3, "backoff_seconds": 30, "batch_size": 50, "schedule_kind": "cron", "cron": "*/5 * * * *",
        "interval_seconds": "", "timezone": "Europe/Amsterdam"}, follow=True)
    assert Route.objects.filter(name="every five minutes").exists()
    assert "reads everything on every run" in response.content.decode()
