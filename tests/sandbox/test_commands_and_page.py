"""The sandbox's commands, its page (no product login), persistence across restarts and reset."""

from __future__ import annotations

import io
import json
import re
import uuid

import pytest
import requests
from django.core.management import call_command

from sandbox.store import get_store
from tests.sandbox.conftest import connect


@pytest.fixture
def sandbox_db(settings, tmp_path):
    settings.SANDBOX_DB_PATH = str(tmp_path / "sandbox.sqlite3")
    return settings.SANDBOX_DB_PATH


def test_register_app_prints_one_json_object(sandbox_db) -> None:
    out = io.StringIO()
    call_command("sandbox_register_app", "--name", "CLI app", "--redirect-uri", "http://localhost/cb", stdout=out)
    data = json.loads(out.getvalue())
    assert {"client_id", "client_secret", "webhook_secret"} <= set(data)
    uuid.UUID(data["client_id"])
    assert data["client_secret"] != data["webhook_secret"]
    scoped = io.StringIO()
    call_command("sandbox_register_app", "--name", "Scoped", "--redirect-uri", "http://localhost/cb",
                 "--scopes", "Crm accounts, Sales orders", stdout=scoped)
    assert json.loads(scoped.getvalue())["scopes"] == ["Crm accounts", "Sales orders"]


def test_generate_and_reset(sandbox_db) -> None:
    out = io.StringIO()
    call_command("sandbox_generate", "--entity", "Accounts", "--count", "5000", "--division", "101002", stdout=out)
    assert "Created 5000" in out.getvalue()
    store = get_store()
    assert store.count_resource("crm/accounts", 101002) == 5000 + 150
    call_command("sandbox_register_app", "--name", "gone", "--redirect-uri", "http://x/cb", stdout=io.StringIO())
    call_command("sandbox_reset", stdout=io.StringIO())
    assert store.count_resource("crm/accounts", 101002) == 150
    assert store.db.execute("SELECT count(*) FROM apps").fetchone()[0] == 0
    with pytest.raises(Exception, match="unknown entity"):
        call_command("sandbox_generate", "--entity", "NoSuchThing", "--count", "1", stdout=io.StringIO())


def test_the_page_lists_what_happened(sandbox) -> None:
    api = connect(sandbox, "Page watcher")
    api.get("crm/Accounts?$select=ID&$top=1")
    page = requests.get(f"{sandbox.url}/", timeout=10)
    assert page.status_code == 200
    assert "Page watcher" in page.text
    assert "Demo Handel B.V." in page.text
    assert "/crm/Accounts" in page.text  # the request log
    assert "Token chains" in page.text and "Quota use" in page.text
    assert api.app["client_secret"] not in page.text  # secrets are shown once, at registration only
    watching = requests.get(f"{sandbox.url}/?refresh=5", timeout=10)
    assert '<meta http-equiv="refresh" content="5">' in watching.text

    browser = requests.Session()
    registered = browser.post(f"{sandbox.url}/sandbox/apps", timeout=10, data={
        "name": "From the page", "redirect_uri": "http://localhost/cb", "csrf_token": sandbox.form_token(browser)})
    assert registered.status_code == 201
    client_id = re.search(r"Client ID</th><td><code>([0-9a-f-]{36})</code>", registered.text).group(1)
    code = sandbox.authorize(client_id, "http://localhost/cb")
    assert code


def test_persisted_across_restarts_and_reset_from_the_page(sandbox_factory, tmp_path) -> None:
    db_path = str(tmp_path / "persist.sqlite3")
    first = sandbox_factory(SANDBOX_DB_PATH=db_path)
    api = connect(first, "persist")
    key = api.post("crm/Accounts", {"Name": "Survivor"}).json()["d"]["ID"]
    first.stop()
    second = sandbox_factory(SANDBOX_DB_PATH=db_path)
    api.base = second.url
    assert api.get(f"crm/Accounts(guid'{key}')?$select=Name").json()["d"]["Name"] == "Survivor"  # token survived too
    browser = requests.Session()
    reset = browser.post(f"{second.url}/sandbox/reset", allow_redirects=False, timeout=30,
                         data={"keep_apps": "on", "csrf_token": second.form_token(browser)})
    assert reset.status_code == 303
    assert api.get(f"crm/Accounts(guid'{key}')").status_code == 404
    assert api.get("crm/Accounts?$select=ID&$top=1").status_code == 200  # apps and grants kept


def test_seed_is_deterministic(sandbox_db) -> None:
    from sandbox.seed import reset_sandbox

    store = get_store()

    def keys() -> list[str]:
        return [r[0] for r in store.db.execute(
            "SELECT key FROM records WHERE resource = 'crm/accounts' AND division = 101001 ORDER BY ts LIMIT 50")]

    reset_sandbox(store, keep_apps=False)
    first = keys()
    reset_sandbox(store, keep_apps=False)
    assert keys() == first
    assert len(first) == 50
    counts = {r["resource"]: r["n"] for r in store.counts() if r["division"] == 101001}
    assert counts["crm/accounts"] == 300
    assert counts["salesorder/salesorderlines"] > counts["salesorder/salesorders"] == 150
    assert {"crm/contacts", "logistics/items", "salesinvoice/salesinvoices", "financial/glaccounts",
            "vat/vatcodes"} <= set(counts)
