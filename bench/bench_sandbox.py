"""Sandbox throughput: loading 100,000 Accounts, and the latency of paged GETs over them.

The target (issue 3): a paged GET of 1000 records answers well under 100 ms with 100,000 rows stored.
Run: ``python -m bench sandbox`` or ``python -m bench.bench_sandbox [--rows N]`` (default: env
``BENCH_SANDBOX_ROWS``, else 100,000).
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests

from tests.fixtures.sandbox import page_form_token

BASE_DIR = Path(__file__).resolve().parent.parent
DIVISION = 101001
REDIRECT = "http://localhost/callback"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _timed(session: requests.Session, url: str) -> tuple[float, requests.Response]:
    started = time.perf_counter()
    response = session.get(url, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text[:300]
    return elapsed, response


def _row(name: str, samples: list[float], note: str = "") -> tuple[str, str, str, str, str, str]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (name, str(len(samples)), f"{statistics.median(samples):.1f}", f"{p95:.1f}", f"{max(samples):.1f}", note)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_SANDBOX_ROWS", "100000")),
                        help="Accounts loaded into the sandbox before the GETs are timed")
    rows = parser.parse_args(argv).rows
    workdir = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    control = {"X-Sandbox-Token": secrets.token_urlsafe(32)}
    env = {**os.environ, "SANDBOX_DB_PATH": str(workdir / "sandbox.sqlite3"), "SANDBOX_TIME_SCALE": "1",
           "SANDBOX_CONTROL_TOKEN": control["X-Sandbox-Token"]}
    manage = [sys.executable, "manage.py"]
    started = time.perf_counter()
    subprocess.run([*manage, "sandbox_generate", "--entity", "Accounts", "--count", str(rows), "--division",
                    str(DIVISION)], cwd=BASE_DIR, env=env, check=True, stdout=subprocess.DEVNULL)
    load_seconds = time.perf_counter() - started
    port = _port()
    process = subprocess.Popen([*manage, "runsandbox", "--port", str(port)], cwd=BASE_DIR, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(f"{base}/sandbox/api/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        http = requests.Session()
        app = http.post(f"{base}/sandbox/api/apps", json={"name": "bench", "redirect_uri": REDIRECT},
                        headers=control).json()
        http.post(f"{base}/sandbox/api/limits", json={"minutely": 10**9, "daily": 10**9}, headers=control)
        params = {"client_id": app["client_id"], "redirect_uri": REDIRECT, "response_type": "code", "state": "b"}
        consent = http.get(f"{base}/api/oauth2/auth", params=params)
        login = http.post(f"{base}/api/oauth2/auth", data={**params, "username": "demo", "password": "demo",
                                                            "action": "approve",
                                                            "csrf_token": page_form_token(consent.text)},
                          allow_redirects=False)
        code = parse_qs(urlparse(login.headers["Location"]).query)["code"][0]
        token = http.post(f"{base}/api/oauth2/token", data={
            "code": code, "redirect_uri": REDIRECT, "grant_type": "authorization_code",
            "client_id": app["client_id"], "client_secret": app["client_secret"]}).json()
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"})
        api = f"{base}/api/v1/{DIVISION}"
        select = "$select=ID,Code,Name,City,Email,Modified"

        cold = _timed(session, f"{api}/bulk/CRM/Accounts?{select}")[0]
        first_page = [_timed(session, f"{api}/bulk/CRM/Accounts?{select}")[0] for _ in range(20)]
        walk: list[float] = []
        url: str | None = f"{api}/bulk/CRM/Accounts?{select}"
        rows = 0
        walk_started = time.perf_counter()
        while url:
            elapsed, response = _timed(session, url)
            walk.append(elapsed)
            body = response.json()["d"]
            rows += len(body["results"])
            url = body.get("__next")
        walk_seconds = time.perf_counter() - walk_started
        sync = [_timed(session, f"{api}/sync/CRM/Accounts?{select}&$filter=Timestamp gt 10050000L")[0]
                for _ in range(10)]
        standard = [_timed(session, f"{api}/crm/Accounts")[0] for _ in range(20)]
        filtered = [_timed(session, f"{api}/crm/Accounts?$select=ID,Name&$filter=City eq 'Delft' and "
                                    f"substringof('Bakkerij', Name)")[0] for _ in range(10)]
        ordered = [_timed(session, f"{api}/bulk/CRM/Accounts?{select}&$orderby=Name")[0] for _ in range(5)]
        modified = [_timed(session, f"{api}/crm/Accounts?$select=ID,Modified&$orderby=Modified"
                                    f"&$filter=Modified ge datetime'2026-01-01T00:00:00'")[0] for _ in range(10)]
        writes = []
        for i in range(50):
            started = time.perf_counter()
            created = session.post(f"{api}/crm/Accounts", json={"Name": f"Bench {i}"}, timeout=30)
            writes.append((time.perf_counter() - started) * 1000)
            assert created.status_code == 201
    finally:
        process.terminate()
        process.wait(timeout=10)

    table = [
        ("measurement", "n", "p50 ms", "p95 ms", "max ms", "note"),
        (f"load {rows:,} Accounts (sandbox_generate)", "1", f"{load_seconds * 1000:.0f}", "", "",
         "target < 60 s"),
        ("GET bulk page 1, first (cold) call", "1", f"{cold:.1f}", "", "", ""),
        _row("GET bulk page 1 (1000 rows, 6 fields)", first_page, "target well under 100 ms"),
        _row("GET bulk, all pages via __next", walk, f"{rows:,} rows in {walk_seconds:.1f} s"),
        _row("GET sync page (1000 rows, Timestamp gt)", sync),
        _row("GET standard page (60 rows, all fields)", standard),
        _row("GET filtered (json scan of 100k rows)", filtered, "City eq + substringof"),
        _row("GET bulk $orderby=Name (1000 rows)", ordered, "sort on a JSON field (no index)"),
        _row("GET Modified ge + $orderby=Modified (60)", modified, "expression index on Modified"),
        _row("POST crm/Accounts", writes),
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for i, row in enumerate(table):
        print("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    main()
