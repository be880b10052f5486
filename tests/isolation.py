"""Loaded with ``-p tests.isolation`` before Django starts: give this pytest run its own SQLite test
database and serverless broker files, so that two runs on one machine (or a ``make run`` beside a test
run) never share them. Explicit ``CELERY_BROKER_URL`` / ``DATABASE_URL`` settings are kept as they are.

Under pytest-xdist (``-n 2``) every worker is a run of its own: its own run id (so its own SQLite test
database and broker file; pytest-django also suffixes PostgreSQL test databases with ``_gw0``...), and on
a Redis broker its own key prefix, so the Celery workers one xdist worker starts never take another's tasks.
"""

from __future__ import annotations

import os
from pathlib import Path

_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_var = Path(os.environ.get("DASH_VAR_DIR", Path(__file__).resolve().parents[1] / "var"))
_var.mkdir(parents=True, exist_ok=True)
_controller_run_id = os.environ.setdefault("DASH_TEST_RUN_ID", str(os.getpid()))
_broker_file = f"test-broker-{_controller_run_id}"


def _own_broker_url(run_id: str) -> str:
    return f"sqla+sqlite:///{_var / f'test-broker-{run_id}.sqlite3'}"


if _xdist_worker:
    # The controller made its run id and broker URL first and the workers inherited them: make them per worker.
    _run_id = f"{_controller_run_id}-{_xdist_worker}"
    os.environ["DASH_TEST_RUN_ID"] = _run_id
    if os.environ.get("CELERY_BROKER_URL") == _own_broker_url(_controller_run_id):
        os.environ["CELERY_BROKER_URL"] = _own_broker_url(_run_id)
    elif os.environ.get("CELERY_BROKER_URL", "").startswith(("redis://", "rediss://")):
        os.environ["DASH_CELERY_KEY_PREFIX"] = f"test-{_xdist_worker}:"
    _broker_file = f"test-broker-{_run_id}"
os.environ.setdefault("CELERY_BROKER_URL", _own_broker_url(os.environ["DASH_TEST_RUN_ID"]))


def pytest_unconfigure(config: object) -> None:
    """Remove this run's serverless broker file (the test database is removed by pytest-django)."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    if url.startswith("sqla+sqlite:///") and _broker_file in url:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(url.removeprefix("sqla+sqlite:///") + suffix).unlink(missing_ok=True)
