import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_secret


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("yes", True), ("On", True), ("0", False), ("no", False), ("", False)]
)
def test_env_bool_reads_common_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG", default=not expected) is expected


def test_env_bool_refuses_junk(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes please")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG", default=False)


def test_env_bool_default_when_unset(monkeypatch):
    monkeypatch.delenv("X_FLAG", raising=False)
    assert env_bool("X_FLAG", default=True) is True


def test_env_int_and_float(monkeypatch):
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_FLOAT", "2.5")
    assert env_int("X_INT", 1) == 42
    assert env_float("X_FLOAT", 1.0) == 2.5
    monkeypatch.setenv("X_INT", "forty")
    with pytest.raises(ImproperlyConfigured, match="integer"):
        env_int("X_INT", 1)


def test_env_list_strips_and_drops_empty(monkeypatch):
    monkeypatch.setenv("X_LIST", " a.example, b.example ,,")
    assert env_list("X_LIST", []) == ["a.example", "b.example"]


def test_env_secret_prefers_file(monkeypatch, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("X_SECRET", "from-env")
    monkeypatch.setenv("X_SECRET_FILE", str(secret_file))
    assert env_secret("X_SECRET") == "from-file"
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="X_SECRET_FILE"):
        env_secret("X_SECRET")


def test_private_file_is_never_readable_by_others(tmp_path, monkeypatch):
    """Issue 10, item 12: the development key file is created 0600, not written 0644 and chmod-ed after."""
    import os
    import stat
    from pathlib import Path

    from config.env import private_file

    chmods: list[int] = []
    monkeypatch.setattr(Path, "chmod", lambda self, mode, **kw: chmods.append(mode))  # a late chmod does not count
    old_umask = os.umask(0o022)
    try:
        value = private_file(tmp_path / "field_encryption_key", lambda: "generated-once")
    finally:
        os.umask(old_umask)
    mode = stat.S_IMODE((tmp_path / "field_encryption_key").stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert value == "generated-once"
    assert private_file(tmp_path / "field_encryption_key", lambda: "another") == "generated-once"  # made once
    assert [p.name for p in tmp_path.iterdir()] == ["field_encryption_key"]  # no temporary file left behind
