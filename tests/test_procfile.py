"""``make run`` (honcho with the Procfile) listens on loopback unless told otherwise (issue 10, item 9).

Development mode runs with DEBUG on and the demo admin/admin login, so the web server must not be reachable
from the network by default. The Procfile line is expanded by a shell, as honcho runs it.
"""

import os
import subprocess
from pathlib import Path

from honcho.environ import parse_procfile

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = parse_procfile((ROOT / "Procfile").read_text()).processes


def _as_run(name: str, **env: str) -> str:
    """The command line the shell runs for process ``name`` with the given environment."""
    result = subprocess.run(["sh", "-c", f"echo {PROCESSES[name]}"], env={"PATH": os.environ["PATH"], **env},
                            capture_output=True, text=True, check=True, timeout=30)
    return result.stdout.strip()


def test_the_web_server_binds_loopback_by_default():
    assert "--bind 127.0.0.1:8000 " in _as_run("web")


def test_dash_web_bind_widens_it_on_purpose():
    assert "--bind 0.0.0.0:8000 " in _as_run("web", DASH_WEB_BIND="0.0.0.0")


def test_the_web_server_is_the_dockerfile_s():
    """``make run`` serves with gunicorn as the image does (not Django's development server, which takes a thread
    and a new database connection per request), with the access log that redacts OAuth codes."""
    web = _as_run("web").split()
    assert web[:2] == ["gunicorn", "config.wsgi:application"]
    assert web[web.index("--logger-class") + 1] == "config.access_log.GunicornLogger"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f'"--workers", "{web[web.index("--workers") + 1]}"' in dockerfile


def test_no_process_listens_on_every_interface_by_default():
    for name in PROCESSES:
        assert "0.0.0.0" not in _as_run(name), name
    sandbox = _as_run("sandbox")
    assert "--host" not in sandbox or "--host 127.0.0.1" in sandbox  # runsandbox defaults to 127.0.0.1


def test_the_worker_consumes_the_interactive_queue_beside_the_default_one():
    """``make run``'s worker takes webhook drains (the interactive queue) as well as everything else."""
    from django.conf import settings

    queues = _as_run("worker").split("--queues=", 1)[1].split()[0]
    assert queues.split(",") == [queue.name for queue in settings.CELERY_TASK_QUEUES]
