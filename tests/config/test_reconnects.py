"""What lets workers ride out a restart of PostgreSQL or Redis (bench/bench_chaos.py proves it end to end)."""

from django.conf import settings


def test_a_kept_database_connection_is_checked_before_reuse():
    # With DASH_DB_CONN_MAX_AGE > 0, a connection PostgreSQL dropped on a restart is replaced before a request or
    # a task uses it, instead of failing that request or task.
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def test_celery_keeps_a_message_until_its_task_ends_and_reconnects_to_the_broker():
    assert settings.CELERY_TASK_ACKS_LATE is True  # a killed worker's batch is delivered again
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1  # a dying worker holds one message per slot, no more
    assert settings.CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP is True  # a worker started before Redis waits for it
