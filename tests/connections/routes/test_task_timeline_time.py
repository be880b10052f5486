from datetime import UTC, datetime

import pytest

from connections.models import Task


@pytest.mark.django_db
def test_timeline_shows_times_in_the_sites_time_zone_like_the_rest_of_the_page(viewer_client, settings):
    settings.TIME_ZONE = "Europe/Amsterdam"
    at = datetime(2026, 7, 1, 10, 0, 0, tzinfo=UTC)
    task = Task.objects.create(data={}, log=[{"at": at.isoformat(), "level": "info", "message": "Attempt 1"}])
    page = viewer_client.get(f"/connections/tasks/{task.pk}/").content.decode()
    assert "2026-07-01 12:00:00" in page  # 10:00 UTC is 12:00 in Amsterdam in summer
