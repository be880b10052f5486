import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.beat import parse_beat_schedule

TABLE = [{"name": "job", "task": "x.tasks.job", "env_key": "X_JOB_EVERY", "default": 30.0, "expires": 25}]


def test_default_interval_and_expires(monkeypatch):
    monkeypatch.delenv("X_JOB_EVERY", raising=False)
    entry = parse_beat_schedule(TABLE)["job"]
    assert entry == {"task": "x.tasks.job", "schedule": 30.0, "options": {"expires": 25}}


def test_env_cron_override(monkeypatch):
    monkeypatch.setenv("X_JOB_EVERY", "*/5 2 * * *")
    schedule = parse_beat_schedule(TABLE)["job"]["schedule"]
    assert isinstance(schedule, crontab)
    assert schedule.hour == {2}
    assert schedule.minute == set(range(0, 60, 5))


def test_env_disable_and_junk(monkeypatch):
    monkeypatch.setenv("X_JOB_EVERY", "disable")
    assert parse_beat_schedule(TABLE) == {}
    monkeypatch.setenv("X_JOB_EVERY", "every day")
    with pytest.raises(ImproperlyConfigured):
        parse_beat_schedule(TABLE)


def test_every_settings_entry_expires():
    assert settings.CELERY_BEAT_SCHEDULE, "the beat table is empty"
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["options"]["expires"] > 0, name
