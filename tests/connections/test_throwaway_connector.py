"""A connector that exists only in this test plugs in through the one plugin contract, with no platform change.

It registers a client type, a subscriber, a publisher and a lookup provider, then is driven through the real
pages (create the client, the Incoming with Fetch sample, the Outgoing, the route) and a route run. Its
secrets are stored encrypted apart from the plain config, never rendered back, and kept when left empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from django import forms
from django.db import connection
from django.urls import reverse

from clients.models import HttpClient
from clients.registry import CLIENT_TYPES, LOOKUP_PROVIDERS, ClientType, LookupProvider
from clients.registry import TestResult as ConnectionTestResult
from connections.models import Incoming, Outgoing, Route, Task
from connections.publishers import PUBLISHERS, Publisher, PublishJob, PublishResult
from connections.subscribers import (
    SUBSCRIBERS,
    Page,
    RequestSpec,
    ResumePoint,
    Sample,
    Subscriber,
    SubscriberConfig,
)
from connections.transformers import Context, TransformError
from lib.plugins import EmptyConfig
from tests.connections.transformers.helpers import one, step

pytestmark = pytest.mark.django_db

NOTES = [{"id": f"n{i}", "text": f"note {i}"} for i in range(1, 8)]
PUBLISHED: list[dict[str, Any]] = []
CLIENT_TOKEN = "client-token-canary-5c1e"
FOLDER_TOKEN = "folder-token-canary-77ab"
SIGNING_KEY = "signing-key-canary-91fd"


class NotesClientConfig(EmptyConfig):
    team: str


class NotesClientType(ClientType):
    kind = "notes_test"
    label = "Notes (test connector)"
    Config = NotesClientConfig
    secret_fields = ("api_token",)

    @classmethod
    def form_fields(cls) -> dict[str, forms.Field]:
        return {"team": forms.CharField(label="Team"), "api_token": forms.CharField(label="API token")}

    def test_connection(self, client: HttpClient, *, user: Any = None) -> ConnectionTestResult:
        ok = client.get_secret("api_token") == CLIENT_TOKEN
        return ConnectionTestResult(ok=ok, message="Notes answered." if ok else "Wrong token.")


class NotesLookup(LookupProvider):
    kind = "notes_test"
    label = "Notes lookup (test connector)"

    def lookup(self, client: HttpClient, request: dict[str, Any]) -> Any:
        return [note for note in NOTES if note["id"] == request["path"]]


class NotesSubscriberConfig(SubscriberConfig):
    folder: str
    folder_token: str = ""


class NotesSubscriber(Subscriber):
    kind = "notes_test"
    label = "Notes subscriber (test connector)"
    description = "Reads notes from a folder."
    Config = NotesSubscriberConfig
    secret_fields = ("folder_token",)
    config: NotesSubscriberConfig

    @classmethod
    def form_fields(cls) -> dict[str, forms.Field]:
        return {"folder": forms.CharField(label="Folder"),
                "folder_token": forms.CharField(label="Folder token", required=False)}

    @classmethod
    def clean(cls, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        errors = {} if data.get("folder_token") == FOLDER_TOKEN else {"folder_token": ["Wrong folder token."]}
        config = {"folder": data.get("folder") or "", "folder_token": data.get("folder_token") or ""}
        return {"config": config, "path": data["path"], "query": data["query"]}, errors

    def preview(self, *, request_hook: Any = None, cursors: Any = None) -> list[RequestSpec]:
        return [RequestSpec(division=None, endpoint=self.config.folder, url=f"notes://{self.config.folder}",
                            params={})]

    def fetch_sample(self, *, limit: int = 5, request_hook: Any = None) -> Sample:
        assert self.config.folder_token == FOLDER_TOKEN  # the decrypted secret reaches the subscriber
        return Sample(spec=self.preview()[0], entities=NOTES[:limit], api_calls=1, has_more=len(NOTES) > limit)

    def read(self, division: int | None, *, resume: ResumePoint | None = None, cursor: Any = None,
             request_hook: Any = None) -> Iterator[Page]:
        assert self.config.folder_token == FOLDER_TOKEN
        for number, start in enumerate(range(0, len(NOTES), 3), start=1):
            rows = NOTES[start:start + 3]
            yield Page(division=None, number=number, entities=rows, endpoint=self.config.folder,
                       next_url=None if start + 3 >= len(NOTES) else f"page {number + 1}")

    def identifier(self, entity: dict[str, Any]) -> str:
        return str(entity["id"])


class NotesPublisherConfig(EmptyConfig):
    tag: str = ""
    signing_key: str = ""


class NotesPublisher(Publisher):
    kind = "notes_test"
    label = "Notes publisher (test connector)"
    Config = NotesPublisherConfig
    secret_fields = ("signing_key",)
    free_entity = True
    entity_label = "Folder"
    form_fields_called: ClassVar[int] = 0

    @classmethod
    def form_fields(cls) -> dict[str, forms.Field]:
        return {"tag": forms.CharField(label="Tag", required=False),
                "signing_key": forms.CharField(label="Signing key", required=False)}

    def publish(self, job: PublishJob) -> PublishResult:
        assert job.config["signing_key"] == SIGNING_KEY
        PUBLISHED.append({"folder": job.outgoing.entity, "tag": job.config["tag"], **job.payload})
        return PublishResult(external_key=f"copy-{job.source_id}", calls=1)


@pytest.fixture
def notes_connector():
    plugins = [(CLIENT_TYPES, NotesClientType), (LOOKUP_PROVIDERS, NotesLookup), (SUBSCRIBERS, NotesSubscriber),
               (PUBLISHERS, NotesPublisher)]
    for registry, plugin in plugins:
        registry.register(plugin)  # type: ignore[arg-type]
    PUBLISHED.clear()
    yield
    for registry, plugin in plugins:
        registry.unregister(plugin.kind)


def _raw(table: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])
        return repr(cursor.fetchone())


@pytest.fixture
def eager_celery(monkeypatch):
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)


def test_a_throwaway_connector_runs_through_the_real_pages(editor_client, notes_connector, eager_celery,
                                                           django_capture_on_commit_callbacks):
    # The client: its own fields on the form, its secret write-only and encrypted.
    form = editor_client.get(reverse("clients:create") + "?kind=notes_test").content.decode()
    assert 'name="team"' in form and 'type="password" name="api_token"' in form
    response = editor_client.post(reverse("clients:create"), {"name": "Notes", "kind": "notes_test", "team": "ops",
                                                               "api_token": CLIENT_TOKEN})
    client = HttpClient.objects.get(name="Notes")
    assert response.status_code == 302 and client.config == {"team": "ops"}
    assert client.get_secret("api_token") == CLIENT_TOKEN and CLIENT_TOKEN not in _raw("clients_httpclient", client.pk)
    page = editor_client.get(reverse("clients:detail", args=[client.pk])).content.decode()
    assert "stored (hidden)" in page and CLIENT_TOKEN not in page
    edit = editor_client.get(reverse("clients:edit", args=[client.pk])).content.decode()
    assert CLIENT_TOKEN not in edit
    editor_client.post(reverse("clients:edit", args=[client.pk]), {"name": "Notes", "team": "dev", "api_token": ""})
    client.refresh_from_db()
    assert client.config == {"team": "dev"} and client.get_secret("api_token") == CLIENT_TOKEN
    tested = editor_client.post(reverse("clients:test_connection", args=[client.pk]), HTTP_HX_REQUEST="true")
    assert "Notes answered." in tested.content.decode()

    # The Incoming: the subscriber's fields, its check, Fetch sample, its secret encrypted apart.
    incoming_form = {"name": "Notes in", "subscriber": "notes_test", "folder": "inbox", "folder_token": "nope",
                     "http_client": client.pk, "pagination": "on", "enabled": "on"}
    refused = editor_client.post(reverse("connections:incoming_create"), incoming_form)
    assert refused.status_code in (200, 400) and "Wrong folder token." in refused.content.decode()
    assert not Incoming.objects.exists()
    incoming_form["folder_token"] = FOLDER_TOKEN
    sample = editor_client.post(reverse("connections:incoming_sample"), incoming_form).content.decode()
    assert "note 1" in sample and FOLDER_TOKEN not in sample
    editor_client.post(reverse("connections:incoming_create"), incoming_form)
    incoming = Incoming.objects.get(name="Notes in")
    assert incoming.config == {"folder": "inbox"} and incoming.get_secret("folder_token") == FOLDER_TOKEN
    assert FOLDER_TOKEN not in _raw("connections_incoming", incoming.pk)
    detail = editor_client.get(incoming.get_absolute_url()).content.decode()
    assert "notes://inbox" in detail and "stored (hidden)" in detail and FOLDER_TOKEN not in detail
    edit = editor_client.get(reverse("connections:incoming_edit", args=[incoming.pk])).content.decode()
    assert 'name="folder"' in edit and FOLDER_TOKEN not in edit

    # The Outgoing: a free-text entity and the publisher's own fields.
    editor_client.post(reverse("connections:outgoing_create"), {
        "name": "Notes out", "publisher": "notes_test", "action": "create", "entity": "archive", "path": "{}",
        "query": "{}", "payload": '{"copied": true}', "payload_from_tasks": "on", "http_client": client.pk,
        "tag": "copied", "signing_key": SIGNING_KEY})
    outgoing = Outgoing.objects.get(name="Notes out")
    assert outgoing.entity == "archive" and outgoing.config["tag"] == "copied"
    assert "signing_key" not in outgoing.config and outgoing.get_secret("signing_key") == SIGNING_KEY

    # The route, run from its page.
    editor_client.post(reverse("connections:route_create"), {
        "name": "Notes copy", "incoming": incoming.pk, "outgoing": outgoing.pk, "enabled": "on", "max_attempts": 3,
        "backoff_seconds": 1, "batch_size": 50, "schedule_kind": "none", "timezone": "UTC"})
    route = Route.objects.get(name="Notes copy")
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post(reverse("connections:route_run", args=[route.pk]))
    assert Task.objects.filter(run__incoming=incoming, status=Task.Status.FINISHED).count() == len(NOTES)
    assert sorted(p["id"] for p in PUBLISHED) == sorted(n["id"] for n in NOTES)
    assert all(p["folder"] == "archive" and p["tag"] == "copied" and p["copied"] is True for p in PUBLISHED)


def test_the_registry_has_one_contract_for_every_sort_of_plugin(notes_connector):
    for registry in (CLIENT_TYPES, SUBSCRIBERS, PUBLISHERS, LOOKUP_PROVIDERS):
        assert registry.get("notes_test").kind == "notes_test"
        assert registry.find("missing") is None
        with pytest.raises(LookupError, match=r"No .* 'missing' is installed"):
            registry.get("missing")
    assert NotesSubscriber.masked({"folder": "x", "folder_token": "secret"}) == {"folder": "x",
                                                                                "folder_token": "••••••"}


def test_http_lookups_go_to_the_lookup_provider_of_the_clients_type(notes_connector):
    client = HttpClient.objects.create(name="Notes", kind="notes_test", config={"team": "ops"})
    lookup = step("http_lookup", http_client=client.pk, path="&{ref}", result="[0].text", target="text")
    assert one([lookup], {"ref": "n3"}, Context()) == {"ref": "n3", "text": "note 3"}
    by_name = step("http_lookup", http_client="Notes", path="&{ref}", result="[0].text", target="text")
    assert one([by_name], {"ref": "n2"}, Context())["text"] == "note 2"
    other = HttpClient.objects.create(name="Nobody", kind="not_installed")
    with pytest.raises(TransformError, match="cannot answer lookups"):
        one([step("http_lookup", http_client=other.pk, path="x", target="text")], {}, Context())
