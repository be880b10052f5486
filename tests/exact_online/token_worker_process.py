"""The processes of the single-flight test: Celery-worker-like loops and web processes sharing one client.

Run as ``python tests/exact_online/token_worker_process.py CLIENT_ID GO_FILE SECONDS USER_ID WORKERS WEB
REFRESHES`` with ``DATABASE_URL`` pointing at the test database; the processes stop once the grant was
refreshed REFRESHES times (or after SECONDS). Django is set up once, then ``WORKERS + WEB`` OS processes
are forked (each with its own database connection and HTTP session); it prints ``ready``, waits for
GO_FILE, and prints one JSON line: the counts of every process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def loop(role: str, client_id: int, user_id: int, deadline_file: Path, seconds: float, refreshes: int,
         out: Path) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from clients.models import HttpClient, OAuthGrant
    from exact_online.client_type import api_for
    from exact_online.errors import ExactError

    client = HttpClient.objects.get(pk=client_id)
    browser = None
    if role == "web":
        browser = Client()
        browser.force_login(get_user_model().objects.get(pk=user_id))
    api = api_for(client, max_attempts=1)
    target = OAuthGrant.objects.get(client_id=client_id).version + refreshes
    while not deadline_file.exists():
        time.sleep(0.01)
    deadline = float(deadline_file.read_text()) + seconds
    counts: Counter[str] = Counter({"pid": os.getpid()})
    while time.time() < deadline:
        if OAuthGrant.objects.filter(client_id=client_id, version__gte=target).exists():
            break
        if browser is not None:
            response = browser.post(reverse("clients:test_connection", args=[client_id]))
            body = response.content.decode()
            counts["ok" if response.status_code == 200 and "Connected to Exact Online as" in body else "failed"] += 1
            time.sleep(0.05)
            continue
        try:
            me = api.get("current/Me", division=None)
            counts["ok" if me["d"]["results"][0]["FullName"] else "empty"] += 1
        except ExactError as exc:
            counts[type(exc).__name__] += 1
            counts[f"message: {exc.message[:200]}"] += 1
        time.sleep(0.01)
    out.write_text(json.dumps({"role": role, **counts}))


def main() -> None:
    import django

    django.setup()
    from django.db import connections

    client_id, go_file, seconds = int(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    user_id, workers, web, refreshes = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
    connections.close_all()  # each child opens its own connection
    children: list[tuple[int, Path]] = []
    for index, role in enumerate(["worker"] * workers + ["web"] * web):
        out = go_file.with_name(f"result-{index}.json")
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                loop(role, client_id, user_id, go_file, seconds, refreshes, out)
                code = 0
            finally:
                os._exit(code)
        children.append((pid, out))
    print("ready", flush=True)
    results = []
    for pid, out in children:
        _, status = os.waitpid(pid, 0)
        results.append(json.loads(out.read_text()) if status == 0 and out.exists() else {"crashed": status})
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
