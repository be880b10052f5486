import pytest

from connections.models import Run


@pytest.mark.django_db
def test_polling_an_active_run_returns_the_counters_and_keeps_polling(viewer_client):
    run = Run.objects.create(status=Run.Status.READING, entities_read=42)
    response = viewer_client.get(f"/connections/runs/{run.pk}/status/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "42" in body and "hx-trigger" in body
    assert "HX-Refresh" not in response


@pytest.mark.django_db
def test_polling_a_run_that_ended_reloads_the_page_once(viewer_client):
    run = Run.objects.create(status=Run.Status.SUCCEEDED)
    response = viewer_client.get(f"/connections/runs/{run.pk}/status/", HTTP_HX_REQUEST="true")
    assert response["HX-Refresh"] == "true"
    plain = viewer_client.get(f"/connections/runs/{run.pk}/status/")
    assert plain.status_code == 200 and "hx-trigger" not in plain.content.decode()
