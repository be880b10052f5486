"""An Exact Online client we did not write (PyPI ``exactonline``, ossobv) works against the sandbox unchanged.

Only its configuration changes: the server URLs point at the sandbox, and its ``opt_secure`` option is
relaxed to allow plain http on loopback (the sandbox serves no TLS). No code of the client is patched.
"""

from __future__ import annotations

import pytest

exactonline = pytest.importorskip("exactonline")
from exactonline import http as eo_http  # noqa: E402
from exactonline.api import ExactApi  # noqa: E402
from exactonline.storage.base import ExactOnlineConfig, MissingSetting  # noqa: E402


class MemoryStorage(ExactOnlineConfig):
    """The client's documented extension point: a get/set store (here a dict)."""

    def __init__(self, values: dict[tuple[str, str], str]) -> None:
        self.values = dict(values)

    def get(self, section: str, option: str) -> str:
        try:
            return self.values[(section, option)]
        except KeyError as exc:
            raise MissingSetting(option) from exc

    def set(self, section: str, option: str, value: str) -> None:
        self.values[(section, option)] = value


def test_ossobv_client_login_paged_list_and_create(sandbox, monkeypatch) -> None:
    monkeypatch.setattr(eo_http.opt_secure, "protocols", ("http", "https"))
    redirect = "http://localhost:8000/exact/callback"
    app = sandbox.register_app("ossobv exactonline", redirect)
    storage = MemoryStorage({
        ("server", "auth_url"): f"{sandbox.url}/api/oauth2/auth",
        ("server", "rest_url"): f"{sandbox.url}/api",
        ("server", "token_url"): f"{sandbox.url}/api/oauth2/token",
        ("application", "base_url"): redirect,
        ("application", "client_id"): app["client_id"],
        ("application", "client_secret"): app["client_secret"],
    })
    api = ExactApi(storage=storage)
    auth_url = api.create_auth_request_url()
    assert auth_url.startswith(f"{sandbox.url}/api/oauth2/auth?client_id={app['client_id']}")

    code = sandbox.authorize(app["client_id"], redirect)
    api.request_token(code)  # the token exchange, through the client's own form post
    assert storage.get_access_token() and storage.get_refresh_token()
    assert storage.get_access_expiry() > 0

    choices, current = api.get_divisions()  # current/Me + hrm/Divisions
    assert current == sandbox.divisions[0]
    assert set(choices) == set(sandbox.divisions)
    api.set_division(current)

    relations = api.relations.all()  # crm/Accounts, 60 per page, following __next
    assert len(relations) >= 300
    assert len({r["ID"] for r in relations}) == len(relations)
    assert set(relations[0]) == {"__metadata", "ID", "Code", "Name"}

    created = api.relations.create({"Name": "Created through ossobv", "Code": "777001"})
    assert created["Name"] == "Created through ossobv"
    found = api.relations.get(relation_code="777001")  # filters Code eq '<18 right-aligned>'
    assert found["ID"] == created["ID"]
    api.relations.update(created["ID"], {"Name": "Updated through ossobv"})  # expects an empty 204 body
    assert api.relations.get(relation_code="777001")["Name"] == "Updated through ossobv"
