"""Start a real sandbox process for the token tests (until/unless tests/fixtures/sandbox.py offers one).

The shared ``sandbox`` / ``sandbox_factory`` fixtures are used when they exist; this is the same idea
in a few lines: ``manage.py runsandbox --port 0`` with its own database file and time scale.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

ROOT = Path(__file__).resolve().parents[2]


class SandboxProcess:
    """A running sandbox: ``url``, ``register_app``, ``authorize``, ``counters``, ``set_faults``, ``stop``."""

    def __init__(self, tmp_dir: Path, **env: Any) -> None:
        environment = {**os.environ, "SANDBOX_DB_PATH": str(tmp_dir / "sandbox.sqlite3"),
                       **{k: str(v) for k, v in env.items()}}
        environment.pop("DATABASE_URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runsandbox", "--port", "0"], cwd=ROOT, env=environment,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.time() + 30
        self.url = ""
        assert self.proc.stdout is not None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            match = re.search(r"(http://127\.0\.0\.1:\d+)/", line or "")
            if match:
                self.url = match.group(1)
                break
            if self.proc.poll() is not None:
                break
        if not self.url:
            self.stop()
            raise RuntimeError("the sandbox did not start")

    def register_app(self, name: str, redirect_uri: str) -> dict[str, str]:
        r = requests.post(f"{self.url}/sandbox/api/apps", json={"name": name, "redirect_uri": redirect_uri}, timeout=10)
        r.raise_for_status()
        return r.json()

    def authorize(self, client_id: str, redirect_uri: str, *, state: str = "s", approve: bool = True) -> str:
        form = {"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code", "state": state,
                "username": "demo", "password": "demo", "action": "approve" if approve else "deny"}
        r = requests.post(f"{self.url}/api/oauth2/auth", data=form, allow_redirects=False, timeout=10)
        assert r.status_code == 302, r.text[:300]
        query = parse_qs(urlsplit(r.headers["Location"]).query)
        return query["code"][0] if approve else query["error"][0]

    def counters(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/sandbox/api/counters", timeout=10).json()

    def set_faults(self, rules: list[dict[str, Any]]) -> None:
        requests.post(f"{self.url}/sandbox/api/faults", json={"rules": rules}, timeout=10).raise_for_status()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
