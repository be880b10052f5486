"""sync/Deleted is readable (deleted keys become tasks); the command and the Celery task share the runner."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from connections.models import IncomingCursor, Run, Task
from connections.tasks import run_incoming
from exact_online.client_type import api_for

from .conftest import DIVISION, make_incoming

pytestmark = pytest.mark.django_db(transaction=True)


def test_deleted_records_are_read_from_sync_deleted_with_their_keys(exact_client):
    api = api_for(exact_client)
    victim = api.get("crm/Accounts", division=DIVISION, params={"$select": "ID", "$top": "1"})["d"]["results"][0]["ID"]
    api.request("DELETE", f"crm/Accounts(guid'{victim}')", division=DIVISION)
    incoming = make_incoming(exact_client, entity="sync/Deleted", incremental=True, name="deleted")
    run, _ = Run.enqueue(incoming)
    done = run_incoming(run.pk)  # the Celery task's body, called directly
    assert done["status"] == "succeeded"
    assert Task.objects.filter(run=run, identifier=victim).exists()
    assert IncomingCursor.objects.get(incoming=incoming, division=DIVISION).kind == "timestamp"


def test_the_management_command_runs_an_incoming_and_refuses_a_second_start(exact_client, capsys):
    incoming = make_incoming(exact_client, endpoint="standard", query={"$select": "ID"}, page_cap=2, name="cmd")
    call_command("run_incoming", str(incoming.pk))
    out = capsys.readouterr().out
    run = Run.objects.get(incoming=incoming)
    assert f"Run {run.pk} of cmd: succeeded; 120 records, 2 API calls" in out
    Run.enqueue(incoming)  # a queued run now exists
    with pytest.raises(CommandError, match="not started twice"):
        call_command("run_incoming", str(incoming.pk))


def test_a_task_for_a_run_that_is_gone_does_nothing():
    assert run_incoming(987654) == {"skipped": 1}
