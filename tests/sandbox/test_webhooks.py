"""Webhooks like Exact's (API.md §10): subscribe, empty validation POST, signed thin deliveries, unsubscribe."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time


def test_subscribe_validate_deliver_signed(exact, receiver) -> None:
    created = exact.post("webhooks/WebhookSubscriptions", {"Topic": "Accounts", "CallbackURL": receiver.url})
    assert created.status_code == 201, created.text
    subscription = created.json()["d"]
    assert subscription["ClientID"] == exact.app["client_id"]
    assert receiver.wait_for(1)[0] == b""  # the validation ping is an empty POST

    duplicate = exact.post("webhooks/WebhookSubscriptions", {"Topic": "Accounts", "CallbackURL": receiver.url})
    assert duplicate.status_code == 500
    assert duplicate.json()["error"]["message"]["value"] == "Data already exists"

    account = exact.post("crm/Accounts", {"Name": "Webhook B.V."}).json()["d"]["ID"]
    exact.put(f"crm/Accounts(guid'{account}')", {"City": "Delft"})
    bodies = receiver.wait_for(3)
    assert len(bodies) >= 3
    deliveries = [b.decode() for b in bodies[1:3]]
    actions = []
    for raw in deliveries:
        match = re.fullmatch(r'\{"Content":(.*),"HashCode":"([0-9A-F]{64})"\}', raw)
        assert match, raw
        expected = hmac.new(exact.app["webhook_secret"].encode(), match.group(1).encode(), hashlib.sha256)
        assert hmac.compare_digest(match.group(2), expected.hexdigest().upper())
        content = json.loads(match.group(1))
        assert content["Topic"] == "Accounts"
        assert content["Key"] == account
        assert content["Division"] == exact.division
        assert content["ClientId"] == exact.app["client_id"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", content["EventCreatedOn"])
        actions.append(content["Action"])
        fetched = exact.get(content["ExactOnlineEndpoint"])
        assert fetched.status_code == 200
        assert fetched.json()["d"]["ID"] == account
    assert sorted(actions) == ["Create", "Update"]

    listed = exact.get("webhooks/WebhookSubscriptions").json()["d"]["results"]
    assert [s["ID"] for s in listed] == [subscription["ID"]]
    assert exact.delete(f"webhooks/WebhookSubscriptions(guid'{subscription['ID']}')").status_code == 204
    exact.delete(f"crm/Accounts(guid'{account}')")
    time.sleep(0.3)
    assert len(receiver.bodies) == 3  # no delivery after unsubscribing


def test_subscription_needs_topic_and_callback(exact) -> None:
    assert exact.post("webhooks/WebhookSubscriptions", {"Topic": "Accounts"}).status_code == 400
    assert exact.post("webhooks/WebhookSubscriptions", {"Topic": "NoSuchTopic",
                                                        "CallbackURL": "http://127.0.0.1:9/x"}).status_code == 400
