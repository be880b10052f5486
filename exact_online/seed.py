"""Demo seed for ``manage.py bootstrap``: an "Exact Online sandbox" HTTP client registered in the sandbox."""

from __future__ import annotations

import io
import json

from django.conf import settings
from django.core.management import CommandError, call_command

from clients.models import HttpClient

__all__ = ["SANDBOX_CLIENT_NAME", "seed_sandbox_client"]

SANDBOX_CLIENT_NAME = "Exact Online sandbox"


def seed_sandbox_client() -> list[str]:
    """When no HTTP client exists: register an app in the sandbox and create a client pointing at it."""
    from .client_type import KIND, redirect_uri

    if HttpClient.objects.exists():
        return ["HTTP clients exist already; no demo client created."]
    buffer = io.StringIO()
    try:
        call_command("sandbox_register_app", name="Exact Dash demo", redirect_uri=redirect_uri(), stdout=buffer)
    except (CommandError, LookupError, TypeError) as exc:
        return [f"Skipped the demo HTTP client: the sandbox cannot register an app yet ({exc})."]
    try:
        app = json.loads(buffer.getvalue().strip().splitlines()[-1])
        client_id, client_secret = app["client_id"], app["client_secret"]
    except (ValueError, KeyError, IndexError):
        return ["Skipped the demo HTTP client: sandbox_register_app did not print the expected JSON."]
    client = HttpClient(name=SANDBOX_CLIENT_NAME, kind=KIND, log_requests=True,
                        config={"base_url": settings.SANDBOX_URL, "client_id": client_id, "scopes": ""})
    client.set_secrets({"client_secret": client_secret, "webhook_secret": app.get("webhook_secret", "")})
    client.save()
    return [f"Created the HTTP client “{SANDBOX_CLIENT_NAME}” for the sandbox at {settings.SANDBOX_URL}: "
            "open it and click “Grant access to Exact Online” (sandbox login demo / demo)."]

