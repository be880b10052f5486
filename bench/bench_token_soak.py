"""Soak: 16 worker processes and 2 web processes share one Exact Online client across 1,000 token expiries.

    .venv/bin/python bench/bench_token_soak.py [--expiries 1000] [--scale 600] [--workers 16] [--web 2]

Starts its own sandbox at the given time scale (600: a 600 s token lives 1 s) and a throw-away database,
grants an HTTP client through the client type's code path, then forks the processes of the
single-flight test (tests/exact_online/token_worker_process.py) until the grant was refreshed
``--expiries`` times. Prints refreshes, refusals per kind, 401s seen by the sandbox, failed requests and
requests per process. The acceptance: refreshes == expiries, zero refusals, zero failed requests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
WORK = Path(tempfile.mkdtemp(prefix="bench-token-soak-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DASH_VAR_DIR"] = str(WORK)
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402

from clients.models import HttpClient, OAuthGrant  # noqa: E402
from exact_online.client_type import KIND, ExactOnlineClientType, redirect_uri  # noqa: E402
from tests.fixtures.sandbox import start_sandbox  # noqa: E402

WORKER = BASE_DIR / "tests" / "exact_online" / "token_worker_process.py"


def run(expiries: int, scale: int, workers: int, web: int) -> dict[str, object]:
    call_command("migrate", verbosity=0)
    sandbox = start_sandbox(WORK / "sandbox", SANDBOX_TIME_SCALE=str(scale))
    try:
        sandbox.set_limits(minutely=10_000_000, daily=1_000_000_000)
        app = sandbox.register_app("token soak", redirect_uri())
        user = get_user_model().objects.create_user("soak", password="soak-soak-soak")
        user.groups.add(Group.objects.get_or_create(name="Editor")[0])  # the web processes test the connection
        client = HttpClient(name="soak", kind=KIND, config={"base_url": sandbox.url, "client_id": app["client_id"]})
        client.set_secrets({"client_secret": app["client_secret"]})
        client.save()
        ExactOnlineClientType().complete_grant(client, code=sandbox.authorize(app["client_id"], redirect_uri()),
                                               user=user)
        go = WORK / "go"
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",
               "DASH_LOG_LEVEL": "WARNING"}
        before = sandbox.counters()
        started = time.time()
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(client.pk), str(go), str(expiries * 5.0), str(user.pk), str(workers),
             str(web), str(expiries)], cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        go.write_text(str(time.time()))
        out, _ = proc.communicate()
        elapsed = time.time() - started
        results = json.loads(out.strip().splitlines()[-1])
        after = sandbox.counters()
        refreshed = after["counters"].get("tokens_refreshed", 0) - before["counters"].get("tokens_refreshed", 0)
        ok = sum(r.get("ok", 0) for r in results)
        failed = sum(v for r in results for k, v in r.items() if k not in {"ok", "pid", "role"} and isinstance(v, int))
        return {
            "processes": len(results),
            "expiries (target)": expiries,
            "refreshes at the sandbox": refreshed,
            "refreshes committed": OAuthGrant.objects.get(client=client).refresh_count,
            "refusals": after["refresh_refusals"],
            "401 (expired token) at the sandbox": after["counters"].get("expired_access_tokens", 0),
            "requests ok": ok,
            "requests failed": failed,
            "seconds": round(elapsed, 1),
            "refreshes per minute": round(refreshed / elapsed * 60, 1),
        }
    finally:
        sandbox.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--expiries", type=int, default=1000)
    parser.add_argument("--scale", type=int, default=600, help="sandbox time scale (600 s / scale must be whole)")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--web", type=int, default=2)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:] if __name__ == "__main__" else [])
    result = run(args.expiries, args.scale, args.workers, args.web)
    width = max(len(k) for k in result)
    print(f"{'token soak':<{width}}  value")
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
