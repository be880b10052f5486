"""Failed logins count across web processes (issue 10, item 11).

allauth locks a login name after 5 failed attempts in 5 minutes. The counts live in Django's cache; a
per-process (local-memory) cache let each gunicorn worker allow 5 of its own. Here one process fails 3 times
and a second process (another interpreter on the same database, as a second web worker) fails twice: the
next attempt, even with the right password, is refused.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.settings import _cache
from tests.conftest import PASSWORD
from tests.fixtures.workers import ROOT, process_env

SECOND_PROCESS = """
import django
django.setup()
from django.test import Client
client = Client()
for _ in range({attempts}):
    response = client.post("/accounts/login/", {{"login": "{username}", "password": "wrong-guess"}})
    assert response.status_code == 200, response.status_code
print("failed", {attempts})
"""


def _fail_in_another_process(username: str, attempts: int) -> None:
    result = subprocess.run([sys.executable, "-c", SECOND_PROCESS.format(username=username, attempts=attempts)],
                            cwd=ROOT, env=process_env(DJANGO_SETTINGS_MODULE="config.settings"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and f"failed {attempts}" in result.stdout, result.stderr[-2000:]


@pytest.mark.django_db(transaction=True)
def test_failed_logins_in_two_processes_add_up_to_the_lock_out(client, django_user_model):
    username = "lockout-target"
    django_user_model.objects.create_user(username, "lockout@example.com", PASSWORD)
    for _ in range(3):
        assert client.post("/accounts/login/", {"login": username, "password": "wrong"}).status_code == 200
    _fail_in_another_process(username, 2)
    refused = client.post("/accounts/login/", {"login": username, "password": PASSWORD})
    assert refused.status_code != 302, "the 6th attempt signed in: the processes count separately"
    assert b"Too many failed login attempts" in refused.content


def test_the_cache_is_shared_by_default_and_redis_when_configured():
    assert "LocMemCache" not in settings.CACHES["default"]["BACKEND"]
    assert _cache("db://")["BACKEND"].endswith("DatabaseCache")
    redis = _cache("redis://redis:6379/1")
    assert redis["BACKEND"].endswith("RedisCache") and redis["LOCATION"] == "redis://redis:6379/1"
    with pytest.raises(ImproperlyConfigured, match="DASH_CACHE_URL"):
        _cache("memcached://x")
