"""Version history: versions listed, compared and restored; restoring an earlier transformer version makes the
tester give the earlier output again; a route run keeps the versions it used and its task page links them."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from audit.models import RunVersions
from connections.flow.routing import start_route_run
from connections.models import Task, Transformer
from tests.connections.transformers.helpers import step
from tests.connections.transformers.test_transformer_views import _fields

pytestmark = pytest.mark.django_db

LABEL = "connections.transformer"


def _tester_output(client, transformer) -> str:
    response = client.post(reverse("connections:transformer_test"),
                           {"transformer": str(transformer.pk), "input": '{"Naam": "Jansen"}'})
    return html.unescape(response.content.decode())


def _versions(transformer):
    return list(Transformer.history.filter(id=transformer.pk).order_by("history_id"))  # type: ignore[attr-defined]


def test_restoring_an_earlier_transformer_version_gives_the_earlier_output(editor_client, viewer_client):
    transformer = Transformer.objects.create(name="Shape", steps=[step("move", source="Naam", target="Name")])
    assert '"Name": "Jansen"' in _tester_output(editor_client, transformer)
    data = {"name": "Shape", "description": "", **_fields([step("move", source="Naam", target="Title")])}
    assert editor_client.post(reverse("connections:transformer_edit", args=[transformer.pk]), data).status_code == 302
    assert '"Title": "Jansen"' in _tester_output(editor_client, transformer)

    first, second = _versions(transformer)
    page = viewer_client.get(reverse("audit:versions", args=[LABEL, transformer.pk])).content.decode()
    assert f"#{first.history_id}" in page and f"#{second.history_id}" in page and "eddie-editor" in page
    compare = viewer_client.get(reverse("audit:version", args=[LABEL, transformer.pk, second.history_id]),
                                {"against": first.history_id}).content.decode()
    assert "Title" in html.unescape(compare) and "Name" in html.unescape(compare)
    assert 'data-testid="diff"' in compare and "0.params.target" in compare
    restore = reverse("audit:restore", args=[LABEL, transformer.pk, first.history_id])
    assert viewer_client.post(restore).status_code == 403

    assert editor_client.post(restore).status_code == 302
    assert '"Name": "Jansen"' in _tester_output(editor_client, transformer)
    latest = _versions(transformer)[-1]
    assert latest.history_change_reason == "restore" and latest.steps == first.steps
    page = editor_client.get(reverse("audit:versions", args=[LABEL, transformer.pk])).content.decode()
    assert "restore" in page


def test_a_route_run_keeps_the_versions_it_used_and_the_task_page_links_them(editor_client, make_route):
    transformer = Transformer.objects.create(name="Chain", steps=[step("move", source="a", target="b")])
    route = make_route()
    route.set_transformers([transformer])
    route_run = start_route_run(route, enqueue=False)
    kept = RunVersions.objects.get(route_run=route_run)
    used = kept.history_id(LABEL, transformer.pk)
    assert used == _versions(transformer)[-1].history_id
    assert kept.history_id("connections.route") is not None
    transformer.steps = [step("move", source="a", target="c")]
    transformer.save()  # a later change does not move what the run used
    task = Task.objects.create(run=route_run.run, incoming=route.incoming, identifier="x", data={"a": 1})
    page = editor_client.get(reverse("connections:task_detail", args=[task.pk])).content.decode()
    assert reverse("audit:version", args=[LABEL, transformer.pk, used]) in page
    version_page = html.unescape(editor_client.get(reverse("audit:version", args=[LABEL, transformer.pk, used]))
                                 .content.decode())
    assert '"target": "b"' in version_page


def test_restoring_a_route_brings_back_its_chain(editor_client, make_route):
    first, second = (Transformer.objects.create(name=n, steps=[]) for n in ("first", "second"))
    route = make_route()
    route.set_transformers([first])
    versions = list(route.history.order_by("history_id"))  # type: ignore[attr-defined]
    assert versions[-1].chain == [first.pk]
    route.set_transformers([second, first])
    assert list(route.history.order_by("history_id"))[-1].chain == [second.pk, first.pk]  # type: ignore[attr-defined]
    response = editor_client.post(reverse("audit:restore", args=["connections.route", route.pk,
                                                                 versions[-1].history_id]))
    assert response.status_code == 302
    assert [t.pk for t in route.ordered_transformers()] == [first.pk]
    restored = list(route.history.order_by("history_id"))[-1]  # type: ignore[attr-defined]
    assert (restored.chain, restored.history_change_reason) == ([first.pk], "restore")
