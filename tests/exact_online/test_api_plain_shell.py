"""The HTTP layer without Django stores: ExactOAuth + InMemoryGrantStore + ExactApi, as from a Python shell."""

from __future__ import annotations

import threading
import time

from exact_online.api import ExactApi
from exact_online.oauth import ExactOAuth, InMemoryGrantStore
from exact_online.quota import InMemoryQuotaStore, LimiterSettings

REDIRECT = "http://localhost/plain-shell-callback"


def test_exchange_then_call_and_refresh_single_flight_in_threads(sandbox_factory):
    sandbox = sandbox_factory(SANDBOX_TIME_SCALE="600")  # 1 s tokens
    app = sandbox.register_app("plain shell", REDIRECT)
    oauth = ExactOAuth(base_url=sandbox.url, client_id=app["client_id"], client_secret=app["client_secret"],
                       redirect_uri=REDIRECT)
    url = oauth.authorization_url(state="st")
    assert url.startswith(f"{sandbox.url}/api/oauth2/auth?") and "state=st" in url and "response_type=code" in url
    token = oauth.exchange_code(sandbox.authorize(app["client_id"], REDIRECT, state="st"))
    assert token.expires_in == 1.0 and token.expires_at > time.time()
    store = InMemoryGrantStore(oauth, token)
    # The sandbox's minute lasts 0.1 s at this time scale: the limiter is told so (Exact's is 60 s).
    api = ExactApi(base_url=sandbox.url, grant_store=store, quota_store=InMemoryQuotaStore(config=LimiterSettings(0.1)))
    assert api.me()["FullName"] == "Demo Gebruiker"
    assert [d["Code"] for d in api.divisions()] == sandbox.divisions

    errors: list[Exception] = []

    def hammer() -> None:
        deadline = time.time() + 3.5
        while time.time() < deadline:
            try:
                api.get("current/Me", division=None)
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counters = sandbox.counters()
    assert errors == []
    assert counters["counters"].get("tokens_refreshed", 0) >= 3
    assert not any(counters["refresh_refusals"].values())
    assert store.token is not None and store.token.version == counters["counters"]["tokens_refreshed"]
