"""The Incoming and run pages: sample from a saved Incoming, Run now (no double start), status, resume,
duplicate, delete, and viewers kept read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from connections.flow.read import execute_incoming_run
from connections.models import Incoming, Run

from .conftest import make_incoming

pytestmark = pytest.mark.django_db(transaction=True)


def test_fetch_sample_of_a_saved_incoming_shows_the_first_entities(exact_client, editor_client):
    incoming = make_incoming(exact_client, query={"$select": "ID,Name"}, name="sampled")
    html = editor_client.post(reverse("connections:incoming_sample"), {"incoming": incoming.pk}).content.decode()
    assert "5 entities" in html and "sync/CRM/Accounts" in html and "&quot;Name&quot;: " in html


def test_run_now_queues_once_and_the_run_page_shows_counts(exact_client, editor_client, viewer_client, monkeypatch):
    queued = []
    monkeypatch.setattr("connections.tasks.enqueue_incoming_run", queued.append)
    incoming = make_incoming(exact_client, query={"$select": "ID"}, name="run me")
    first = editor_client.post(reverse("connections:incoming_run", args=[incoming.pk]))
    second = editor_client.post(reverse("connections:incoming_run", args=[incoming.pk]))
    run = Run.objects.get(incoming=incoming)
    assert first.url == second.url == run.get_absolute_url() and queued == [run]
    status = viewer_client.get(reverse("connections:run_status", args=[run.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in status  # polls while queued
    execute_incoming_run(run.pk)
    status = viewer_client.get(reverse("connections:run_status", args=[run.pk])).content.decode()
    assert "hx-trigger" not in status and "Succeeded" in status
    page = viewer_client.get(run.get_absolute_url()).content.decode()
    run.refresh_from_db()
    assert f'data-testid="entities-read">{run.entities_read}<' in page and "Read " in page
    assert " of 1000000 · " in page  # quota left in the division, from the X-RateLimit headers
    assert viewer_client.post(reverse("connections:run_resume", args=[run.pk])).status_code == 403


def test_resume_button_continues_a_failed_run(exact_client, editor_client, monkeypatch):
    queued = []
    monkeypatch.setattr("connections.tasks.enqueue_incoming_run", queued.append)
    incoming = make_incoming(exact_client, endpoint="sync", query={"$select": "ID"}, name="resumable")
    run, _ = Run.enqueue(incoming)

    def stop(run, page):
        raise RuntimeError("lost the worker")

    failed = execute_incoming_run(run.pk, on_page=stop)
    assert failed.status == Run.Status.FAILED
    response = editor_client.post(reverse("connections:run_resume", args=[failed.pk]))
    new = Run.objects.get(resumed_from=failed)
    assert response.url == new.get_absolute_url() and queued == [new]
    assert execute_incoming_run(new.pk).status == Run.Status.SUCCEEDED


def test_duplicate_and_delete(exact_client, editor_client):
    incoming = make_incoming(exact_client, name="original")
    editor_client.post(reverse("connections:incoming_duplicate", args=[incoming.pk]))
    copy = Incoming.objects.get(name="Copy of original")
    assert copy.config == incoming.config and copy.http_client == incoming.http_client
    assert editor_client.post(reverse("connections:incoming_delete", args=[copy.pk])).status_code == 302
    assert not Incoming.objects.filter(pk=copy.pk).exists()


def test_the_cursor_is_shown_and_can_be_rewound(exact_client, editor_client, viewer_client):
    from connections.models import IncomingCursor

    incoming = make_incoming(exact_client, name="rewind", incremental=True)
    IncomingCursor.objects.create(incoming=incoming, division=101001, kind="timestamp", value="5000")
    page = viewer_client.get(incoming.get_absolute_url()).content.decode()
    assert 'data-testid="cursor-value">5000' in page and "Timestamp+gt+5000L" in page.replace("%20", "+")
    url = reverse("connections:incoming_cursor_reset", args=[incoming.pk])
    editor_client.post(url, {"division": 101001, "value": "1200"})
    assert IncomingCursor.objects.get(incoming=incoming).value == "1200"
    editor_client.post(url, {"division": 101001, "value": "not a number"})
    assert IncomingCursor.objects.get(incoming=incoming).value == "1200"
    modified = IncomingCursor.objects.create(incoming=make_incoming(exact_client, name="rewind modified"),
                                             division=101001, kind="modified", value="1", seen_keys=["x"])
    editor_client.post(reverse("connections:incoming_cursor_reset", args=[modified.incoming_id]),
                       {"division": 101001, "value": "2024-01-01T00:00:00"})
    modified.refresh_from_db()
    assert (modified.value, modified.seen_keys) == ("1704067200000", [])


def test_a_modified_cursor_is_rewound_and_shown_in_exacts_wall_clock_across_dst(exact_client, editor_client,
                                                                                 viewer_client, settings):
    from connections.models import IncomingCursor

    settings.TIME_ZONE = "Europe/Amsterdam"
    incoming = make_incoming(exact_client, name="dst")
    cursor = IncomingCursor.objects.create(incoming=incoming, division=101001, kind="modified", value="1")
    url = reverse("connections:incoming_cursor_reset", args=[incoming.pk])
    # 01:30 UTC on 27 October 2024 is the second 02:30 in Amsterdam (CET, after the clocks went back).
    editor_client.post(url, {"division": 101001, "value": "2024-10-27T01:30:00Z"})
    cursor.refresh_from_db()
    assert cursor.value == "1729996200000"  # /Date(ms)/ of the wall clock 2024-10-27 02:30:00
    page = viewer_client.get(incoming.get_absolute_url()).content.decode()
    assert 'data-testid="cursor-value">2024-10-27 02:30:00' in page
