"""``${NAME}``: resolved when used, in one place; a resolved copy is never saved; encrypted values stay masked."""

from __future__ import annotations

import pytest

from clients.models import HttpClient
from configuration.models import Variable
from configuration.variables import UnknownVariable, names_in, resolve, resolved, unknown_names, usages
from connections.flow.read import subscriber_for
from connections.models import Incoming, Transformer
from connections.subscribers import ReadError
from lib.http import SECRET_SOURCES
from tests.webhooks.conftest import make_webhook  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    client = HttpClient(name="Shop", kind="http", config={"base_url": "${SHOP_URL}", "headers": {"X-Tenant": "${T}"}})
    client.set_secrets({"api_key": "${SHOP_KEY}"})
    client.save()
    return client


def test_names_are_found_in_text_and_json_and_unknown_ones_reported():
    assert names_in({"a": ["x ${ONE} y ${two_2}", {"${KEY}": 1}], "b": "$NOT {THIS} ${9NO}"}) == {"ONE", "two_2", "KEY"}
    Variable.objects.create(name="ONE", value="1")
    assert unknown_names("${ONE} ${TWO}") == ["TWO"]
    with pytest.raises(UnknownVariable, match=r"\$\{TWO\}"):
        resolve("${ONE}${TWO}")
    assert resolve({"q": "a=${ONE}"}) == {"q": "a=1"}


def test_a_client_is_used_with_the_values_of_now_and_its_copy_cannot_be_saved(client):
    Variable.objects.create(name="SHOP_URL", value="http://one.invalid")
    Variable.objects.create(name="T", value="acme")
    Variable.objects.create(name="SHOP_KEY", encrypted=True, secret="k-123")
    used = resolved(client)
    assert used.config == {"base_url": "http://one.invalid", "headers": {"X-Tenant": "acme"}}
    assert used.get_secrets() == {"api_key": "k-123"}
    client.refresh_from_db()
    assert client.config["base_url"] == "${SHOP_URL}" and client.get_secrets() == {"api_key": "${SHOP_KEY}"}
    for fields in (None, ["status"]):  # not even other fields: the version history copies every field
        with pytest.raises(RuntimeError, match="cannot be saved"):
            used.save(update_fields=fields)

    Variable.objects.filter(name="SHOP_URL").update(value="http://two.invalid")
    assert resolved(client).config["base_url"] == "http://two.invalid"  # one change, every user


def test_an_incoming_reads_through_its_resolved_client_and_a_missing_variable_fails_the_read(client):
    Variable.objects.create(name="SHOP_URL", value="http://one.invalid")
    Variable.objects.create(name="T", value="acme")
    Variable.objects.create(name="SHOP_KEY", encrypted=True, secret="k-123")
    incoming = Incoming.objects.create(name="Orders", subscriber="http", http_client=client,
                                       config={"request_path": "/orders/${T}", "items": "data"})
    subscriber = subscriber_for(incoming)
    assert subscriber.incoming.config["request_path"] == "/orders/acme"
    assert subscriber.incoming.http_client.config["base_url"] == "http://one.invalid"
    assert incoming.http_client.config["base_url"] == "${SHOP_URL}"  # the original is untouched
    Variable.objects.filter(name="T").delete()
    with pytest.raises(ReadError, match=r"\$\{T\}"):
        subscriber_for(incoming)


def test_transformer_parameters_are_resolved_when_the_chain_is_compiled():
    Variable.objects.create(name="GREETING", value="hello")
    transformer = Transformer.objects.create(name="t", steps=[
        {"type": "set_value", "params": {"path": "greeting", "template": "${GREETING} &{name}"}}])
    assert transformer.compiled().run({"name": "Ann"}).entities == [{"name": "Ann", "greeting": "hello Ann"}]


def test_encrypted_values_are_masked_in_request_logs_and_usages_are_listed(client):
    Variable.objects.create(name="SHOP_KEY", encrypted=True, secret="k-123")
    assert any("k-123" in list(source()) for source in SECRET_SOURCES)
    found = usages()
    assert [u.name for u in found["SHOP_URL"]] == ["Shop"] and [u.name for u in found["SHOP_KEY"]] == ["Shop"]


def test_a_webhook_checks_its_shared_secret_from_an_encrypted_variable(make_webhook):  # noqa: F811
    from django.test import Client

    from tests.webhooks.conftest import post
    from webhooks.models import Delivery, Rejection

    hook = make_webhook(hmac_check=False, validation={"secret_header": {"header": "X-Shop-Token"}})
    hook.set_secrets({"shared_secret": "${SHOP_HOOK_TOKEN}"})
    hook.save()
    assert post(Client(), hook, {"orders": []}, X_Shop_Token="t0k3n").status_code == 503  # not defined yet
    assert Rejection.objects.get(webhook=hook, status=503).count == 1
    Variable.objects.create(name="SHOP_HOOK_TOKEN", encrypted=True, secret="t0k3n")
    assert post(Client(), hook, {"orders": []}, X_Shop_Token="wrong").status_code == 401
    assert post(Client(), hook, {"orders": []}, X_Shop_Token="t0k3n").status_code == 202
    assert Delivery.objects.get().webhook_id == hook.pk
    hook.refresh_from_db()
    assert hook.get_secrets()["shared_secret"] == "${SHOP_HOOK_TOKEN}"  # the reference, as stored
