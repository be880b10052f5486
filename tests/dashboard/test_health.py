from unittest import mock

import pytest
from django.utils import timezone

from dashboard import health
from dashboard.models import WorkerHeartbeat


@pytest.fixture(autouse=True)
def _fresh_health_cache():
    health.clear_cache()
    yield
    health.clear_cache()


@pytest.mark.django_db
def test_health_reports_database_broker_and_worker_to_a_signed_in_viewer(viewer_client):
    response = viewer_client.get("/health")
    body = response.json()
    assert response.status_code == 200, body
    assert body["database"]["status"] == "ok"
    assert body["broker"]["status"] == "ok"
    assert body["worker"]["status"] == "unknown"  # no heartbeat yet


@pytest.mark.django_db
def test_health_answers_anonymous_callers_with_the_status_only(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_health_hides_details_from_a_user_without_a_role(norole_client):
    assert norole_client.get("/health").json() == {"status": "ok"}


@pytest.mark.django_db
def test_health_checks_the_broker_once_for_a_burst_of_anonymous_requests(client, settings):
    settings.HEALTH_CACHE_SECONDS = 60
    with mock.patch.object(health, "Connection", wraps=health.Connection) as opened:
        statuses = [client.get("/health").status_code for _ in range(20)]
    assert statuses == [200] * 20
    assert opened.call_count == 1


@pytest.mark.django_db
def test_health_checks_again_after_the_cache_time(client, settings):
    settings.HEALTH_CACHE_SECONDS = 0
    with mock.patch.object(health, "Connection", wraps=health.Connection) as opened:
        client.get("/health")
        client.get("/health")
    assert opened.call_count == 2


@pytest.mark.django_db
def test_health_shows_a_live_and_a_stale_worker(viewer_client, settings):
    settings.HEALTH_CACHE_SECONDS = 0
    beat = WorkerHeartbeat.objects.create(name="w1", seen_at=timezone.now())
    assert viewer_client.get("/health").json()["worker"]["status"] == "ok"
    WorkerHeartbeat.objects.filter(pk=beat.pk).update(seen_at=timezone.now() - timezone.timedelta(hours=1))
    assert viewer_client.get("/health").json()["worker"]["status"] == "stale"


@pytest.mark.django_db
def test_health_is_503_when_the_broker_is_down(client, viewer_client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    anonymous = client.get("/health")
    assert anonymous.status_code == 503
    assert anonymous.json() == {"status": "error"}  # no transport or exception name for strangers
    detailed = viewer_client.get("/health")
    assert detailed.status_code == 503
    assert detailed.json()["broker"]["status"] == "error"
