"""Tasks carry the label and search key their Incoming defines; the Tasks page finds them by either."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from connections.models import Incoming, Task
from connections.task_names import TaskNamer, normalise
from tests.fixtures.sandbox import grant_client


def test_the_namer_fills_label_and_normalised_keys():
    namer = TaskNamer("&{Code} – &{Name}", "&{Code}")
    assert namer({"Code": " C01", "Name": "Jansen  B.V."}, "guid") == {
        "label": "C01 – Jansen B.V.", "label_key": "c01 – jansen b.v.", "search_key": "c01"}
    assert TaskNamer()({"Code": "x"}, "Guid-1") == {"label": "", "label_key": "", "search_key": "guid-1"}
    assert normalise("ÄBC  d") == "äbc d"


@pytest.mark.django_db
def test_a_run_names_its_tasks_and_the_tasks_page_finds_them(sandbox, viewer_client, editor_client):
    client = grant_client(sandbox, "task labels", unlimited=True)
    incoming = Incoming.objects.create(
        name="Labelled accounts", subscriber="exact_online", http_client=client, pagination=False,
        config={"entity": "crm/Accounts", "divisions": "selected", "division_codes": [sandbox.divisions[0]],
                "endpoint": "standard"},
        query={"$select": "ID,Code,Name", "$top": "5"}, task_label="&{Code} – &{Name}", task_key="&{Name}")
    call_command("run_incoming", str(incoming.pk))
    tasks = list(Task.objects.filter(incoming=incoming).order_by("pk"))
    assert len(tasks) == 5
    first = tasks[0]
    assert first.label == f"{first.data['Code'].strip()} – {first.data['Name']}"  # Exact pads codes with spaces
    assert first.search_key == normalise(first.data["Name"])

    # By the start of the key (the Name), case-insensitively; and by the start of the label (the Code).
    tasks_url = reverse("connections:task_list")  # scope=all: an Incoming's own run writes previews
    by_key = viewer_client.get(tasks_url, {"find": first.data["Name"][:6].upper(), "scope": "all"})
    assert first.label in by_key.content.decode()
    by_label = viewer_client.get(tasks_url, {"find": first.data["Code"].strip(), "scope": "all"})
    page = by_label.content.decode()
    assert first.label in page and page.count('data-testid="task-label"') >= 1
    nothing = viewer_client.get(tasks_url, {"find": "no such thing", "scope": "all"}).content.decode()
    assert first.label not in nothing
    detail = viewer_client.get(reverse("connections:task_detail", args=[first.pk])).content.decode()
    assert f'<span data-testid="task-label">{first.label}</span>' in detail


@pytest.mark.django_db
def test_a_bad_placeholder_in_a_label_template_is_refused(editor_client):
    from connections.forms.incoming import IncomingForm

    form = IncomingForm(data={"name": "x", "subscriber": "exact_online", "task_label": "&{Code..x}"})
    assert not form.is_valid()
    assert "Not a usable template" in str(form.errors["task_label"])


@pytest.mark.django_db
def test_a_route_names_its_tasks_over_its_incoming_and_a_webhook_fed_route_names_its_own(make_route):
    from connections.flow.read import tasks_for
    from connections.forms.routes import RouteForm
    from connections.models import RouteRun, Run
    from connections.subscribers import Page

    route = make_route()
    Incoming.objects.filter(pk=route.incoming_id).update(task_label="&{Name}", task_key="&{Name}")
    route.refresh_from_db()
    page = Page(division=1, number=1, entities=[{"ID": "g-1", "Code": "C7", "Name": "Jansen"}], next_url=None,
                endpoint="crm/Accounts")

    def named(run: Run) -> Task:
        return tasks_for(run, lambda e: e["ID"], page, None)[0][0]

    preview = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
    assert named(preview).label == "Jansen"  # no route: the Incoming's templates
    route.task_label = "&{Code} – &{Name}"  # the key stays the Incoming's
    route.save()
    run = Run.objects.create(incoming=route.incoming, status=Run.Status.SUCCEEDED)
    RouteRun.objects.create(route=route, run=run)
    task = named(Run.objects.get(pk=run.pk))
    assert (task.label, task.search_key) == ("C7 – Jansen", "jansen")
    route.incoming, route.task_key = None, "&{Code}"
    route.save()
    webhook_run = Run.objects.create(incoming=None)
    RouteRun.objects.create(route=route, run=webhook_run, trigger="webhook")
    task = named(Run.objects.get(pk=webhook_run.pk))
    assert task.search_key == "c7"
    form = RouteForm(data={"task_label": "&{Code..x}"})
    assert not form.is_valid() and "Not a usable template" in str(form.errors["task_label"])
