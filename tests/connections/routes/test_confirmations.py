"""Confirmations say the action and the count; an Incoming used by a route is refused before anyone is asked."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from connections.models import Incoming, Task


def _confirm_of(page: str, action: str) -> str:
    match = re.search(rf'<button name="action" value="{action}"[^>]*data-confirm="([^"]*)"', page, re.S)
    assert match, f"no confirmation on the {action} button"
    return match.group(1)


@pytest.mark.django_db
def test_each_bulk_action_names_itself_and_its_count(editor_client, make_route, make_run):
    route = make_route()
    run = make_run(route, count=5)
    tasks = list(Task.objects.filter(run=run.run).order_by("pk"))
    Task.objects.filter(pk__in=[t.pk for t in tasks[:2]]).update(status=Task.Status.FAILED)
    Task.objects.filter(pk=tasks[2].pk).update(status=Task.Status.PROCESSING)
    page = editor_client.get(reverse("connections:task_list")).content.decode()
    retry, skip, delete = (_confirm_of(page, action) for action in ("retry", "skip", "delete"))
    assert retry.startswith("Retry 2 tasks")
    assert skip.startswith("Skip 4 tasks")  # 2 new + 2 failed
    assert delete.startswith("Delete 4 tasks") and "cannot be undone" in delete  # not the one being published
    assert len({retry, skip, delete}) == 3
    assert "Delete all (4)" in page and "Retry all (2)" in page


@pytest.mark.django_db
def test_an_incoming_used_by_a_route_is_refused_before_asking(editor_client, make_route):
    route = make_route()
    page = editor_client.get(route.incoming.get_absolute_url()).content.decode()
    assert 'data-testid="delete-blocked"' in page and "disabled" in page
    assert reverse("connections:incoming_delete", args=[route.incoming.pk]) not in page  # no form to confirm
    assert "Used by 1 route" in page and route.name in page
    response = editor_client.post(reverse("connections:incoming_delete", args=[route.incoming.pk]), follow=True)
    assert Incoming.objects.filter(pk=route.incoming.pk).exists()
    assert "remove it from them first" in response.content.decode()


@pytest.mark.django_db
def test_an_unused_incoming_asks_with_its_name_and_runs(editor_client, make_route):
    route = make_route()
    incoming = route.incoming
    route.delete()
    page = editor_client.get(incoming.get_absolute_url()).content.decode()
    assert f'data-confirm="Delete the Incoming {incoming.name} with its 0 run(s)' in page
    editor_client.post(reverse("connections:incoming_delete", args=[incoming.pk]))
    assert not Incoming.objects.filter(pk=incoming.pk).exists()
