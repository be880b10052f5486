"""Many rows at once: instances built positionally equal the ones ``Model(**kwargs)`` builds, and ``insert_rows``
stores them as ``bulk_create`` would (COPY on PostgreSQL), giving each its id."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.models.signals import post_init
from django.forms.models import model_to_dict
from django.utils import timezone

from connections.models import Incoming, Run, Task
from lib.rows import _dumps, insert_rows, new_rows

pytestmark = pytest.mark.django_db
AT = timezone.now()

FIELDS = ["run", "incoming", "status", "identifier", "label", "label_key", "search_key", "division", "data",
          "transformed", "retransform", "request", "response", "external_key", "attempts", "error", "skip_reason",
          "log", "next_attempt_at", "wait_reason", "processing_since", "claim_token", "queued_at", "created_at"]


@pytest.fixture
def run() -> Run:
    return Run.objects.create(incoming=Incoming.objects.create(name="in", subscriber="exact_online"))


def _values(run: Run, n: int) -> dict:
    return {"incoming_id": run.incoming_id, "identifier": f"id-{n}", "division": 7,
            "data": {"ID": n, "Name": "Jansen \"&\" Zn\t\\ ü", "Lines": [1, None, {"a": []}]},
            "transformed": None if n % 2 else {"code": f"C{n}"}, "created_at": AT,
            "status": Task.Status.SKIPPED if n == 3 else Task.Status.NEW, "skip_reason": "x" if n == 3 else "",
            "label": f"Jansen {n}", "log": [{"at": "now", "level": "info", "message": "Read"}]}


def test_built_rows_equal_keyword_built_ones(run):
    make = new_rows(Task)
    fast = make(run_id=run.pk, **_values(run, 1))
    slow = Task(run=run, **_values(run, 1))
    assert model_to_dict(fast, fields=FIELDS) == model_to_dict(slow, fields=FIELDS)
    assert fast.pk is None and fast._state.adding
    assert make().data == {} and make().data is not make().data  # defaults are made per row, not shared
    assert make().created_at > AT
    with pytest.raises(TypeError, match="no field attribute 'run'"):
        make(run=run)


def test_built_rows_have_what_model_init_gives_them_and_listeners_still_hear_of_them(run):
    make = new_rows(Task)
    fast = make(run_id=run.pk, **_values(run, 2))
    slow = Task(run_id=run.pk, **_values(run, 2))
    state = {key: value for key, value in slow.__dict__.items() if key != "_state"}
    assert {key: value for key, value in fast.__dict__.items() if key != "_state"} == state
    assert (fast._state.adding, fast._state.db) == (True, None)
    heard: list[Task] = []

    def listener(sender, instance, **kwargs):
        heard.append(instance)

    post_init.connect(listener, sender=Task)
    try:
        built = make(run_id=run.pk)
    finally:
        post_init.disconnect(listener, sender=Task)
    assert heard == [built] and built.run_id == run.pk


def test_insert_rows_stores_every_field_and_sets_the_ids(run):
    make = new_rows(Task)
    rows = [make(run_id=run.pk, **_values(run, n)) for n in range(5)]
    insert_rows(Task, rows, batch_size=2)
    assert all(row.pk and not row._state.adding for row in rows)
    assert len({row.pk for row in rows}) == 5
    stored = {task.pk: task for task in Task.objects.filter(run=run)}
    for row in rows:
        assert model_to_dict(stored[row.pk], fields=FIELDS) == model_to_dict(row, fields=FIELDS)
    assert stored[rows[1].pk].transformed is None  # SQL NULL, as bulk_create stores None
    assert Task.objects.filter(run=run, transformed__isnull=True).count() == 2
    assert stored[rows[0].pk].updated_at is not None
    Task.objects.create(run=run, identifier="after")  # the sequence moved past the ids COPY used
    if connection.vendor == "postgresql":
        assert Task.objects.get(identifier="after").pk > max(row.pk for row in rows)
    insert_rows(Task, [])


@pytest.mark.parametrize("value", [
    {"Name": "Jansen \"&\" Zn\t\\ ü\n\u2028", "n": [1, -0.0, 1e16, 1.5e-7, 2**63 - 1, None, True, False]},
    {1: "a key that is not text"}, {"big": 2**70}, ["\ud800"], {"when": AT}, "plain", 0, [],
], ids=["text-and-numbers", "int-key", "big-int", "surrogate", "datetime", "str", "int", "list"])
def test_json_for_copy_is_the_document_json_dumps_makes(value):
    try:
        expected = json.dumps(value)
    except TypeError:
        with pytest.raises(TypeError):
            _dumps(value)
        return
    made = _dumps(value)
    assert made is not None and json.loads(made) == json.loads(expected)
    assert _dumps(None) is None
