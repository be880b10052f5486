"""OAuth authorization codes stay out of access logs (issue 10, item 13).

The real servers run as subprocesses (runserver as ``make run`` starts it, gunicorn with the arguments of the
compose file) and get the OAuth callback with a code and state, as Exact's redirect would send them.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
CODE = "stolen-auth-code-5f1c9e"
STATE = "state-value-77aa"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_and_call(args: list[str], port: int, tmp_path: Path) -> str:
    """Start a server, send it the OAuth callback, stop it and return everything it logged."""
    log_path = tmp_path / "server.log"
    env = {**os.environ, "DASH_VAR_DIR": str(tmp_path), "DASH_ENV": "development", "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)
    with log_path.open("wb") as log:
        server = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/clients/oauth/callback/",
                                        params={"code": CODE, "state": STATE}, allow_redirects=False, timeout=20)
                break
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or its worker still booting
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the server did not start: " + log_path.read_text()
                time.sleep(0.3)
        assert response.status_code < 500
        time.sleep(0.5)  # let the access log line reach the file
    finally:
        server.terminate()
        server.wait(timeout=30)
    return log_path.read_text()


def _assert_redacted(output: str) -> None:
    assert "/clients/oauth/callback/" in output, output[-2000:]  # the request was logged ...
    assert CODE not in output and STATE not in output  # ... without its code and state
    assert "code=[redacted]" in output


def test_runserver_access_log_hides_the_authorization_code(tmp_path):
    port = _free_port()
    _assert_redacted(_serve_and_call(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], port, tmp_path))


def test_gunicorn_access_log_as_deployed_hides_the_authorization_code(tmp_path):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["web"]["command"][-1]
    gunicorn = shlex.split(command[command.index("gunicorn "):])
    assert "--logger-class" in gunicorn and "config.access_log.GunicornLogger" in gunicorn
    assert "config.access_log.GunicornLogger" in (ROOT / "Dockerfile").read_text()
    port = _free_port()
    gunicorn[gunicorn.index("--bind") + 1] = f"127.0.0.1:{port}"
    gunicorn[gunicorn.index("--workers") + 1] = "1"
    _assert_redacted(_serve_and_call([sys.executable, "-m", *gunicorn], port, tmp_path))
