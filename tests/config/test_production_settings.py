"""Production mode: secrets are mandatory and ``check --deploy`` is clean."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path, *args, **env):
    dropped = {"SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    base.update({"DASH_ENV": "production", "DASH_VAR_DIR": str(tmp_path), "ALLOWED_HOSTS": "dash.example.com"})
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean(tmp_path):
    result = _run(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="k" * 20 + Fernet.generate_key().decode(),
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key(tmp_path):
    result = _run(tmp_path, "check", FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode())
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_field_encryption_key(tmp_path):
    result = _run(tmp_path, "check", SECRET_KEY="s" * 60)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY" in result.stderr


def test_a_malformed_field_encryption_key_stops_start_up_with_a_clear_error(tmp_path):
    """Issue 10, item 12: checked at start-up (not at the first secret), naming the bad key, never echoing it."""
    good = Fernet.generate_key().decode()
    result = _run(tmp_path, "check", SECRET_KEY="s" * 60, FIELD_ENCRYPTION_KEY=f"{good},not-a-real-key-value")
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY: key 2 of 2 is not a Fernet key" in result.stderr
    assert "not-a-real-key-value" not in result.stderr + result.stdout
    assert good not in result.stderr + result.stdout


def test_development_keys_are_written_owner_only(tmp_path):
    """A fresh development start generates SECRET_KEY and FIELD_ENCRYPTION_KEY into var/ with mode 0600."""
    import stat

    result = _run(tmp_path, "check", DASH_ENV="development")
    assert result.returncode == 0, result.stderr
    for name in ("secret_key", "field_encryption_key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name


_PROXY_PROBE = (
    "from django.test import RequestFactory; "
    "print('secure', RequestFactory().get('/', HTTP_X_FORWARDED_PROTO='https').is_secure())"
)


def test_x_forwarded_proto_is_trusted_only_behind_a_configured_proxy(tmp_path):
    """Issue 10, item 13: a client sending X-Forwarded-Proto itself does not pass as https."""
    keys = {"SECRET_KEY": "k" * 20 + Fernet.generate_key().decode(),
            "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(), "ALLOWED_HOSTS": "testserver"}
    spoofed = _run(tmp_path, "shell", "-c", _PROXY_PROBE, **keys)
    assert "secure False" in spoofed.stdout, spoofed.stdout + spoofed.stderr  # plain http, whatever it claims
    proxied = _run(tmp_path, "shell", "-c", _PROXY_PROBE, DASH_BEHIND_PROXY="true", **keys)
    assert "secure True" in proxied.stdout, proxied.stdout + proxied.stderr
