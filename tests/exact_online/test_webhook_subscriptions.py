"""Exact webhook subscriptions from the client page: subscribe, see what Exact registered, delete it again."""

from __future__ import annotations

import pytest
from django.urls import reverse

from exact_online.webhooks import webhook_for


@pytest.mark.django_db
def test_subscribe_list_and_delete_from_the_client_page(sandbox, granted_client, editor_client, settings):
    settings.SITE_URL = "http://127.0.0.1:9"  # Exact's validation POST goes nowhere; the subscription stays
    client, division = granted_client, granted_client.default_division
    page = editor_client.post(reverse("exact_online:webhooks_subscribe", args=[client.pk]),
                              {"topics": ["Accounts", "Items"], "divisions": [str(division)]}, follow=True)
    assert f"Accounts in {division}: subscribed" in page.content.decode()
    hook = webhook_for(client)
    ours = [s for s in hook.config["subscriptions"] if s["ours"]]
    assert sorted(s["topic"] for s in ours) == ["Accounts", "Items"]
    shown = editor_client.get(client.get_absolute_url()).content.decode()
    assert 'data-testid="webhook-subscriptions"' in shown and hook.url in shown

    for sub in ours:  # the page's Delete buttons
        done = editor_client.post(reverse("exact_online:webhooks_delete", args=[client.pk]),
                                  {"division": str(sub["division"]), "subscription": sub["id"]}, follow=True)
        assert "Subscription deleted at Exact Online." in done.content.decode()
    hook.refresh_from_db()
    assert hook.config["subscriptions"] == []  # listed again from Exact (an app sees its own) after each delete
    gone = editor_client.get(client.get_absolute_url()).content.decode()
    assert "Exact has no subscription registered for this app (listed <time " in gone  # the site's one format
    refused = editor_client.post(reverse("exact_online:webhooks_delete", args=[client.pk]),
                                 {"division": str(division), "subscription": "not-a-guid"}, follow=True)
    assert "That is not a subscription id." in refused.content.decode()
