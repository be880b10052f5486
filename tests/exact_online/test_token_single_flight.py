"""Acceptance: 16 worker processes and 2 web processes share one client across 20+ token expiries.

The sandbox runs at time scale 600 (a 600 s token lives 1 s, the refresh window is its last 0.05 s), so
20 expiries take ~21 s. Every expiry must get exactly one refresh (no "Old refresh token used", no
"TooEarlyToRefreshTokens"), and no request may fail for auth. The 1,000-expiry soak is
bench/bench_token_soak.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from clients.models import HttpClient
from tests.clients.oauth_helpers import grant, sandbox_client

WORKER = Path(__file__).with_name("token_worker_process.py")
ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The test database as a DATABASE_URL, so the subprocesses share it."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    if connection.vendor == "postgresql":
        auth = f"{s['USER']}:{s['PASSWORD']}@" if s.get("USER") else ""
        return f"postgres://{auth}{s.get('HOST') or 'localhost'}:{s.get('PORT') or 5432}/{s['NAME']}"
    raise pytest.skip.Exception(f"no subprocess DATABASE_URL for {connection.vendor}")


def run_processes(client: HttpClient, user_id: int, *, workers: int, web: int, refreshes: int, seconds: float,
                  tmp_path: Path) -> list[dict[str, Any]]:
    """Fork ``workers + web`` OS processes (one launcher sets Django up once), start them together."""
    go = tmp_path / "go"
    env = {**os.environ, "DATABASE_URL": database_url(), "DASH_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(client.pk), str(go), str(seconds), str(user_id), str(workers), str(web),
         str(refreshes)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.strip() == "ready", proc.stderr.read()[-3000:]  # type: ignore[union-attr]
        time.sleep(1.0)  # let the children open their connections
        go.write_text(str(time.time()))
        out, err = proc.communicate(timeout=seconds + 120)
        assert proc.returncode == 0, err[-3000:]
        return json.loads(out.strip().splitlines()[-1])
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_eighteen_processes_share_one_client_with_one_refresh_per_expiry(
        editor_client, editor_user, sandbox_factory, tmp_path):
    sandbox = sandbox_factory(SANDBOX_TIME_SCALE="600")
    sandbox.set_limits(minutely=1_000_000, daily=100_000_000)
    client, app = sandbox_client(sandbox, log=False)
    grant(editor_client, client, sandbox, app)
    before = sandbox.counters()
    results = run_processes(client, editor_user.pk, workers=16, web=2, refreshes=21, seconds=240.0,
                            tmp_path=tmp_path)
    after = sandbox.counters()

    refreshes = after["counters"].get("tokens_refreshed", 0) - before["counters"].get("tokens_refreshed", 0)
    client.refresh_from_db()
    summary = {"refreshes": refreshes, "refusals": after["refresh_refusals"],
               "statuses": after["requests_by_status"], "processes": results}
    print(json.dumps(summary))
    # at least 20 expiries, each with exactly one refresh: any second refresh within a token's life would be
    # refused as too early, any refresh with a used refresh token as "Old refresh token used"
    assert refreshes >= 20, summary
    assert after["refresh_refusals"]["old_refresh_token"] == 0 and after["refresh_refusals"]["too_early"] == 0
    assert not any(after["refresh_refusals"].values()), summary
    assert after["counters"].get("token_refused", 0) == 0
    # every refresh Exact made was committed by us (no lost rotation), and the client stayed healthy
    assert client.grant.refresh_count == refreshes
    assert client.status == HttpClient.Status.GRANTED
    # zero requests that failed, in any process; both kinds of process did real work
    assert len(results) == 18 and len({r["pid"] for r in results}) == 18, summary
    assert all(set(r) == {"role", "pid", "ok"} for r in results), summary
    assert all(r["ok"] > 10 for r in results)
    # No request is sent with a token known to be expired, or in its last 0.25 s. A request delayed longer than
    # that between taking the token and reaching Exact (18 processes on a loaded 2-core box) can still meet the
    # expiry: it gets the one refresh-and-retry and succeeds (asserted above). The 1,000-expiry soak saw 12 such
    # 401s in 178,200 requests; runs here saw 2 at load ~4 and 6 of ~720 at load ~10. With no margin at all a request
    # would meet the expiry whenever its flight spans the token's last moment (a token lives ~1 s here): several per
    # hundred requests. So the bound is 2% of the requests, at least 3.
    requests = sum(r["ok"] for r in results)
    assert after["counters"].get("expired_access_tokens", 0) <= max(3, requests // 50), summary
