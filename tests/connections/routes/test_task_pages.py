"""Tasks: filters, timeline and stages, retry / skip / delete one or all that match, edit payload and retry."""

from __future__ import annotations

from django.urls import reverse

from connections.flow import publish
from connections.models import Task


def published(make_route, make_run, script, count=3, failing=("src-0",)):
    route = make_route()
    route_run = make_run(route, count)
    for source in failing:
        script.outcomes[source] = ["permanent"]
    publish.publish_batch(route_run, list(Task.objects.filter(run=route_run.run).values_list("pk", flat=True)))
    return route, route_run


def test_filters_by_route_status_identifier_and_text(viewer_client, make_route, make_run, script):
    route, _ = published(make_route, make_run, script)
    other, _ = published(make_route, make_run, script, failing=())
    url = reverse("connections:task_list")
    page = viewer_client.get(url, {"route": route.pk, "status": "failed"}).content.decode()
    assert "1 task(s)" in page and "Invalid: src-0" in page
    assert "3 task(s)" in viewer_client.get(url, {"route": other.pk}).content.decode()
    assert "2 task(s)" in viewer_client.get(url, {"identifier": "src-1"}).content.decode()
    assert "1 task(s)" in viewer_client.get(url, {"q": "Invalid", "route": route.pk}).content.decode()
    bar = viewer_client.get(url, {"route": route.pk}).content.decode()
    assert "<title>Finished: 2</title>" in bar and "<title>Failed: 1</title>" in bar  # SVG segments (no inline styles)


def test_detail_shows_timeline_stages_and_diff(viewer_client, make_route, make_run, script):
    published(make_route, make_run, script)
    task = Task.objects.filter(identifier="src-1", status="finished").first()
    page = viewer_client.get(reverse("connections:task_detail", args=[task.pk])).content.decode()
    assert 'data-testid="timeline"' in page and "Published." in page
    assert "Incoming" in page and "Published request" in page
    assert 'data-testid="diff"' in page  # the transformer removed "i"
    assert "key-src-1" in page
    assert "Exact key" not in page and "Exact's response" not in page  # the platform names no connector
    assert "<dt>Target key</dt>" in page


def test_retry_skip_and_delete_one(editor_client, make_route, make_run, script, django_capture_on_commit_callbacks):
    published(make_route, make_run, script)
    failed = Task.objects.get(status="failed")
    with django_capture_on_commit_callbacks() as callbacks:
        editor_client.post(reverse("connections:task_retry", args=[failed.pk]))
    failed.refresh_from_db()
    assert failed.status == Task.Status.RETRY and len(callbacks) == 1
    assert "Retry requested by eddie-editor" in failed.log[-1]["message"]
    editor_client.post(reverse("connections:task_skip", args=[failed.pk]))
    failed.refresh_from_db()
    assert failed.status == Task.Status.SKIPPED
    editor_client.post(reverse("connections:task_delete", args=[failed.pk]))
    assert not Task.objects.filter(pk=failed.pk).exists()


def test_bulk_actions_apply_to_everything_that_matches(editor_client, make_route, make_run, script):
    route, _ = published(make_route, make_run, script, count=4, failing=("src-0", "src-1", "src-2"))
    response = editor_client.post(reverse("connections:task_bulk"),
                                  {"action": "skip", "route": route.pk, "status": "failed"}, follow=True)
    assert "3 task(s) skipped" in response.content.decode()
    assert Task.objects.filter(status="skipped").count() == 3
    editor_client.post(reverse("connections:task_bulk"), {"action": "delete", "route": route.pk, "status": "skipped"})
    assert Task.objects.count() == 1


def test_edit_payload_and_retry_is_recorded(editor_client, make_route, make_run, script,
                                           django_capture_on_commit_callbacks):
    _route, route_run = published(make_route, make_run, script)
    failed = Task.objects.get(status="failed")
    url = reverse("connections:task_edit_payload", args=[failed.pk])
    assert "Account 0" in editor_client.get(url).content.decode()
    assert editor_client.post(url, {"payload": "{broken"}).status_code == 400
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        editor_client.post(url, {"payload": '{"Name": "Account zero, fixed"}'})
    failed.refresh_from_db()
    assert failed.status == Task.Status.RETRY and len(callbacks) == 1
    edit = next(line for line in failed.log if "edit_after" in line)
    assert edit["edit_before"] == {"Name": "Account 0"} and edit["edit_after"] == {"Name": "Account zero, fixed"}
    publish.publish_batch(route_run, [failed.pk])  # what the queued job does
    failed.refresh_from_db()
    assert failed.status == Task.Status.FINISHED
    assert script.jobs[-1].payload == {"Name": "Account zero, fixed"}
    assert script.jobs[-1].maybe_published is True  # a request went out before: look first
    page = editor_client.get(reverse("connections:task_detail", args=[failed.pk])).content.decode()
    assert "Edited payload" in page and "Transformed → edited" in page


def test_edit_payload_refuses_deep_nesting_and_nan_with_a_message(editor_client, make_route, make_run, script):
    published(make_route, make_run, script)
    failed = Task.objects.get(status="failed")
    url = reverse("connections:task_edit_payload", args=[failed.pk])
    deep = "[" * 10_000 + "]" * 10_000
    for payload, reason in ((deep, "nested too deeply"), ('{"Name": NaN}', "NaN is not a JSON value"),
                            ('{"Name": Infinity}', "Infinity is not a JSON value")):
        response = editor_client.post(url, {"payload": payload})
        assert response.status_code == 400, reason
        assert reason in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == Task.Status.FAILED and failed.transformed == {"Name": "Account 0"}  # nothing lost


def test_a_viewer_cannot_change_tasks(viewer_client, make_route, make_run, script):
    published(make_route, make_run, script)
    failed = Task.objects.get(status="failed")
    for name in ("task_retry", "task_skip", "task_delete", "task_edit_payload"):
        assert viewer_client.post(reverse(f"connections:{name}", args=[failed.pk])).status_code == 403
    assert viewer_client.post(reverse("connections:task_bulk"), {"action": "delete"}).status_code == 403
    assert Task.objects.filter(pk=failed.pk, status="failed").exists()
