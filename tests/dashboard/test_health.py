import pytest
from django.utils import timezone

from dashboard.models import WorkerHeartbeat


@pytest.mark.django_db
def test_health_reports_database_broker_and_worker_without_login(client):
    response = client.get("/health")
    body = response.json()
    assert response.status_code == 200, body
    assert body["database"]["status"] == "ok"
    assert body["broker"]["status"] == "ok"
    assert body["worker"]["status"] == "unknown"  # no heartbeat yet


@pytest.mark.django_db
def test_health_shows_a_live_and_a_stale_worker(client, settings):
    beat = WorkerHeartbeat.objects.create(name="w1", seen_at=timezone.now())
    assert client.get("/health").json()["worker"]["status"] == "ok"
    WorkerHeartbeat.objects.filter(pk=beat.pk).update(seen_at=timezone.now() - timezone.timedelta(hours=1))
    assert client.get("/health").json()["worker"]["status"] == "stale"


@pytest.mark.django_db
def test_health_is_503_when_the_broker_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["broker"]["status"] == "error"
