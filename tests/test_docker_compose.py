"""There is no Docker engine here: check the compose file's shape and wiring instead."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env(service: str) -> dict:
    env = COMPOSE["services"][service].get("environment", {})
    return env if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def test_services_exist_with_healthchecks():
    services = COMPOSE["services"]
    assert {"db", "redis", "web", "worker", "beat", "sandbox"} <= set(services)
    for name in ("db", "redis", "web"):
        assert "healthcheck" in services[name], name
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["sandbox"]["profiles"] == ["sandbox"]


def test_one_image_runs_web_worker_and_beat():
    services = COMPOSE["services"]
    images = {
        services[name].get("build", {}).get("context") or services[name].get("image")
        for name in ("web", "worker", "beat")
    }
    assert len(images) == 1
    assert "gunicorn" in " ".join(services["web"]["command"])
    assert "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]


def test_app_services_are_wired_to_postgres_and_redis():
    for name in ("web", "worker", "beat"):
        env = _env(name) | {k: v for k, v in COMPOSE.get("x-app-env", {}).items()}
        assert env["DATABASE_URL"].startswith("postgres://"), name
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379"), name
        assert env["DASH_CACHE_URL"].startswith("redis://redis:6379"), name  # lock-out counts shared by processes
        assert env["DASH_ENV"] == "production"
        assert "SECRET_KEY_FILE" in env or "SECRET_KEY" in env
        assert "FIELD_ENCRYPTION_KEY_FILE" in env or "FIELD_ENCRYPTION_KEY" in env
        depends = COMPOSE["services"][name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"


def test_data_survives_in_volumes():
    assert {"pgdata", "appvar"} <= set(COMPOSE["volumes"])
    assert any("pgdata:" in v for v in COMPOSE["services"]["db"]["volumes"])


def test_dockerfile_serves_static_with_whitenoise():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "collectstatic" in dockerfile
    assert "pip install" in dockerfile


def test_the_sandbox_is_published_on_loopback_only_and_apart_from_the_product():
    """Issue 10, 8: not on every interface, and no product secret, database, broker or shared volume."""
    sandbox = COMPOSE["services"]["sandbox"]
    assert sandbox["ports"] and all(str(port).startswith("127.0.0.1:") for port in sandbox["ports"])
    assert "secrets" not in sandbox
    env = _env("sandbox")
    assert env.get("DASH_ENV") != "production" and env.get("DEBUG") == "false"
    product_only = {"SECRET_KEY", "SECRET_KEY_FILE", "FIELD_ENCRYPTION_KEY", "FIELD_ENCRYPTION_KEY_FILE",
                    "DATABASE_URL", "CELERY_BROKER_URL"}
    assert not product_only & set(env)
    assert "SANDBOX_CONTROL_TOKEN" in env
    assert "sandbox" in env["SANDBOX_ALLOWED_HOSTS"].split(",")  # the product's containers call it by name
    volumes = sandbox["volumes"]
    shared = {v.split(":")[0] for name in ("web", "worker", "beat") for v in COMPOSE["services"][name]["volumes"]}
    assert volumes and not {v.split(":")[0] for v in volumes} & shared
    assert "depends_on" not in sandbox or not {"db", "redis"} & set(sandbox["depends_on"])


def test_workers_scale_out_with_docker_compose_scale():
    """`docker compose up --scale worker=N` needs a worker without a fixed name or published port."""
    worker = COMPOSE["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert "container_name" not in COMPOSE["services"]["beat"]  # beat stays one: it is not scaled


def test_the_image_holds_every_app_of_the_product():
    """The Dockerfile once listed app folders one by one and missed the six added after it (webhooks, api...): the
    image would not start. Every local app of INSTALLED_APPS is a package pip installs and goes into the image."""
    from django.conf import settings

    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY \. \./?$", dockerfile, re.MULTILINE), "the image copies the project, not a list of apps"
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    packaged = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    local_apps = [app for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()]
    assert local_apps
    for app in local_apps:
        top = app.split(".")[0]
        assert top not in ignored, f"{top} is left out of the image by .dockerignore"
        assert f"{top}*" in packaged, f"{top} is not installed by pip (pyproject packages.find.include)"
    for needed in ("manage.py", "pyproject.toml", "templates", "static", "config"):
        assert needed not in ignored and (ROOT / needed).exists()


def test_the_worker_consumes_the_interactive_queue_beside_the_default_one():
    """A webhook's drain goes to its own queue (config/settings.py): a worker that did not consume it would leave
    every delivery Received until the sweep, and one consuming only it would never publish a run."""
    from django.conf import settings

    command = COMPOSE["services"]["worker"]["command"]
    queues = next(arg.split("=", 1)[1] for arg in command if arg.startswith("--queues="))
    assert queues.split(",") == [queue.name for queue in settings.CELERY_TASK_QUEUES]
