"""Plant canaries (client secret, webhook secret, every token of the chain) and grep for them everywhere.

With *Log requests* on, a grant, a refresh, API calls, a connection test and a refused code run; then
every page an administrator can open, all captured log output and every column of every table must
contain none of them (tokens and secrets are encrypted at rest and redacted in logs).
"""

from __future__ import annotations

import logging
import time

import pytest
from django.db import connection
from django.urls import reverse

from clients.models import AuthEvent, OAuthGrant, RequestLog
from exact_online.client_type import api_for, redirect_uri

from .oauth_helpers import callback, grant, sandbox_client, start_grant


def all_database_text() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # table names from introspection
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


@pytest.mark.django_db(transaction=True)
def test_no_secret_or_token_anywhere(admin_client, sandbox_factory, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    sandbox = sandbox_factory(SANDBOX_TIME_SCALE="600")  # 1 s tokens: refreshes happen within the test
    client, app = sandbox_client(sandbox, log=True)
    canaries = {app["client_secret"], app["webhook_secret"]}

    def collect_tokens() -> None:
        g = OAuthGrant.objects.get(client=client)
        canaries.update({g.access_token, g.refresh_token})

    grant(admin_client, client, sandbox, app)
    collect_tokens()
    api = api_for(client)
    for _ in range(3):
        time.sleep(1.0)
        api.me()
        collect_tokens()
    admin_client.post(reverse("clients:test_connection", args=[client.pk]))
    state = start_grant(admin_client, client)
    used_code = sandbox.authorize(app["client_id"], redirect_uri(), state="other")
    canaries.add(used_code)
    sandbox.token(app, used_code)  # spend it, so our exchange is refused
    callback(admin_client, code=used_code, state=state)
    assert OAuthGrant.objects.get(client=client).refresh_count >= 2
    assert len(canaries) >= 8 and all(len(c) >= 12 for c in canaries)
    assert RequestLog.objects.filter(client=client, kind="auth").count() >= 3
    assert RequestLog.objects.filter(client=client, kind="api").count() >= 4

    pages = [reverse("clients:list"), reverse("clients:detail", args=[client.pk]),
             reverse("clients:edit", args=[client.pk]), reverse("clients:auth_log"), reverse("clients:request_log"),
             reverse("dashboard:home")]
    pages += [reverse("clients:auth_log_detail", args=[pk]) for pk in AuthEvent.objects.values_list("pk", flat=True)]
    pages += [reverse("clients:request_log_detail", args=[pk])
              for pk in RequestLog.objects.values_list("pk", flat=True)]
    texts = {url: admin_client.get(url).content.decode() for url in pages}
    assert all(text for text in texts.values())
    captured = capsys.readouterr()
    haystacks = {"database": all_database_text(), "logs": caplog.text, "stdout": captured.out + captured.err, **texts}
    hits = [(where, canary[:6]) for where, text in haystacks.items() for canary in canaries if canary in text]
    assert hits == []
