"""Shared fixtures: personas (one user per role) and the fixture plugins under tests/fixtures/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.test import Client

# Playwright's sync API runs an event loop in the test thread; the ORM calls in the same tests are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Every module in tests/fixtures/ is a fixture plugin (sandbox, browser, workers, ...).
pytest_plugins = sorted(
    f"tests.fixtures.{path.stem}"
    for path in (Path(__file__).parent / "fixtures").glob("*.py")
    if path.stem != "__init__"
)

PASSWORD = "correct-horse-battery-staple"


@pytest.hookimpl(wrapper=True)  # marks before pytest-xdist's hook reads them, order after pytest-django's sort
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    """Groups for ``make test``'s ``-n 2 --dist loadgroup``: the process-heavy tests (``-m slow``) are one group,
    so they never run beside each other, and come first (the longest unit first, or one worker would finish
    alone); the users of the costly ``big_sandbox`` share one worker and so one such sandbox; every other file is
    a group of its own, as under ``--dist loadfile``. Without xdist nothing changes."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        if item.get_closest_marker("slow"):
            group = "slow"
        elif "big_sandbox" in getattr(item, "fixturenames", ()):
            group = "big_sandbox"
        else:
            group = item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))
    yield
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the order xdist hands out groups; one process keeps pytest-django's
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _transactional(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    names = set(getattr(item, "fixturenames", ()))
    return bool(names & {"transactional_db", "live_server"}) or bool(
        marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))


@pytest.fixture(autouse=True)
def _empty_database_cache_after_transactional_tests(request, django_db_blocker):
    """A transactional test's flush empties the models' tables, not the database cache's: what the test cached
    (the task chart's past days, ...) was read by the next tests of the same process. Emptied here too."""
    yield
    if _transactional(request.node):
        from django.core.cache import caches
        from django.core.cache.backends.db import DatabaseCache

        if isinstance(caches["default"], DatabaseCache):  # a table of the test database (never a shared Redis)
            with django_db_blocker.unblock():
                caches["default"].clear()


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """Personas are created per test: a fast hasher keeps the suite quick (production keeps PBKDF2)."""
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()


@pytest.fixture(autouse=True)
def _no_task_estimates_from_earlier_tests():
    """Task count estimates are kept a minute per process: one test's must not answer for the next."""
    from connections.task_counts import clear_estimates

    clear_estimates()


@pytest.fixture(autouse=True)
def _no_api_call_counts_from_earlier_tests():
    """The call counter gathers counts per process; one test's counts must not be written inside the next."""
    from clients.usage import discard_pending

    discard_pending()
    yield
    discard_pending()


def _make_user(django_user_model, username: str, role: str | None):
    user = django_user_model.objects.create_user(username, f"{username}@example.com", PASSWORD)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def admin_user(db, django_user_model):
    return _make_user(django_user_model, "alice-admin", "Administrator")


@pytest.fixture
def editor_user(db, django_user_model):
    return _make_user(django_user_model, "eddie-editor", "Editor")


@pytest.fixture
def viewer_user(db, django_user_model):
    return _make_user(django_user_model, "vera-viewer", "Viewer")


@pytest.fixture
def norole_user(db, django_user_model):
    return _make_user(django_user_model, "nora-norole", None)


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin_user) -> Client:
    return _client_for(admin_user)


@pytest.fixture
def editor_client(editor_user) -> Client:
    return _client_for(editor_user)


@pytest.fixture
def viewer_client(viewer_user) -> Client:
    return _client_for(viewer_user)


@pytest.fixture
def norole_client(norole_user) -> Client:
    return _client_for(norole_user)


@pytest.fixture(autouse=True)
def _tag_browser_tests(request, record_property):
    """Mark browser tests in the JUnit report so CI can show that they ran."""
    if request.node.get_closest_marker("browser"):
        record_property("browser", "1")
