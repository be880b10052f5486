"""Loaded with ``-p tests.isolation`` before Django starts: give this pytest run its own SQLite test
database and serverless broker files, so that two runs on one machine (or a ``make run`` beside a test
run) never share them. Explicit ``CELERY_BROKER_URL`` / ``DATABASE_URL`` settings are kept as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

_run_id = os.environ.setdefault("DASH_TEST_RUN_ID", str(os.getpid()))
_var = Path(os.environ.get("DASH_VAR_DIR", Path(__file__).resolve().parents[1] / "var"))
_var.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("CELERY_BROKER_URL", f"sqla+sqlite:///{_var / f'test-broker-{_run_id}.sqlite3'}")


def pytest_unconfigure(config: object) -> None:
    """Remove this run's serverless broker file (the test database is removed by pytest-django)."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    if url.startswith("sqla+sqlite:///") and f"test-broker-{_run_id}" in url:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(url.removeprefix("sqla+sqlite:///") + suffix).unlink(missing_ok=True)
