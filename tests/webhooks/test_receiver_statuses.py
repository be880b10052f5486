"""The hook endpoint: accepted requests are stored and answered 202 before parsing; bad ones get the right
status, are counted, and are neither stored nor processed."""

from __future__ import annotations

import base64
import time

import pytest
from django.test import Client, override_settings

from webhooks.models import Delivery, Rejection

from .conftest import post, sign

pytestmark = pytest.mark.django_db


def _refused(hook, status: int) -> int:
    row = Rejection.objects.filter(webhook=hook, status=status).first()
    return row.count if row else 0


def test_a_signed_delivery_is_stored_raw_and_answered_202_before_parsing(make_webhook):
    hook = make_webhook()
    body = b'{"orders": [{"id": 1}], "note": "not parsed yet'  # broken JSON: parsing is the workers' job
    response = post(Client(), hook, body, X_Delivery_Id="d-1")
    assert response.status_code == 202
    delivery = Delivery.objects.get(webhook=hook)
    assert delivery.status == Delivery.Status.RECEIVED
    assert delivery.body_bytes() == body
    assert delivery.size == len(body)
    assert delivery.headers["X-Signature"] == "[redacted]"
    assert delivery.headers["X-Delivery-Id"] == "d-1"
    assert response.json() == {"delivery": delivery.pk, "status": "received"}


def test_unknown_hook_is_404_and_counted():
    response = Client().post("/hooks/not-a-hook/", b"{}", content_type="application/json")
    assert response.status_code == 404
    assert Rejection.objects.get(webhook=None, status=404).count == 1
    assert not Delivery.objects.exists()


def test_disabled_hook_is_410(make_webhook):
    hook = make_webhook(enabled=False)
    assert post(Client(), hook, {"orders": []}).status_code == 410
    assert _refused(hook, 410) == 1
    assert not Delivery.objects.exists()


@override_settings(WEBHOOK_MAX_BODY_BYTES=100)
def test_a_body_over_the_limit_is_413(make_webhook):
    hook = make_webhook()
    assert post(Client(), hook, {"orders": ["x" * 200]}).status_code == 413
    assert post(Client(), hook, {"orders": ["ok"]}).status_code == 202
    assert _refused(hook, 413) == 1
    assert Delivery.objects.count() == 1


def test_the_default_limit_is_5_mb_not_djangos_upload_limit(make_webhook):
    hook = make_webhook()
    body = b'{"orders": ["' + b"x" * (4 * 1024 * 1024) + b'"]}'  # over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
    assert post(Client(), hook, body).status_code == 202
    too_big = b'{"orders": ["' + b"x" * (5 * 1024 * 1024) + b'"]}'
    assert post(Client(), hook, too_big).status_code == 413


def test_a_wrong_content_type_is_415(make_webhook):
    hook = make_webhook()
    assert post(Client(), hook, b"id,name\n1,a\n", content_type="text/csv").status_code == 415
    assert post(Client(), hook, {"orders": []}, content_type="application/vnd.shop+json").status_code == 202
    assert _refused(hook, 415) == 1


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha256=zz", sign(b"other body"), "0" * 64])
def test_a_bad_signature_is_401_and_never_stored(make_webhook, signature):
    hook = make_webhook()
    assert post(Client(), hook, {"orders": [{"id": 1}]}, signature=signature).status_code == 401
    assert _refused(hook, 401) == 1
    assert not Delivery.objects.exists()


def test_hmac_sha1_in_base64_without_a_prefix(make_webhook):
    import hashlib
    import hmac

    from .conftest import HMAC_SECRET

    hook = make_webhook(validation={"hmac": {"header": "X-Hub-Signature", "algorithm": "sha1", "encoding": "base64",
                                             "prefix": ""}})
    body = b'{"orders": [{"id": 7}]}'
    good = base64.b64encode(hmac.new(HMAC_SECRET.encode(), body, hashlib.sha1).digest()).decode()
    hex_instead = hmac.new(HMAC_SECRET.encode(), body, hashlib.sha1).hexdigest()
    sha256 = base64.b64encode(hmac.new(HMAC_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    for wrong in (hex_instead, sha256, "sha1=" + good):
        assert post(Client(), hook, body, signature="", X_Hub_Signature=wrong).status_code == 401
    assert post(Client(), hook, body, signature="", X_Hub_Signature=good).status_code == 202
    assert _refused(hook, 401) == 3 and Delivery.objects.get().headers["X-Hub-Signature"] == "[redacted]"


def test_shared_secret_header(make_webhook):
    hook = make_webhook(hmac_check=False, validation={"secret_header": {"header": "X-Shop-Token"}})
    hook.set_secrets({"shared_secret": "s3cr3t-token"})
    hook.save()
    assert post(Client(), hook, {"orders": []}, X_Shop_Token="wrong").status_code == 401
    assert post(Client(), hook, {"orders": []}).status_code == 401
    assert post(Client(), hook, {"orders": []}, X_Shop_Token="s3cr3t-token").status_code == 202
    assert Delivery.objects.get().headers["X-Shop-Token"] == "[redacted]"


def test_basic_auth(make_webhook):
    hook = make_webhook(hmac_check=False, validation={"basic": {"username": "shop"}})
    hook.set_secrets({"basic_password": "pa55"})
    hook.save()

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert post(Client(), hook, {}, Authorization=basic("shop", "nope")).status_code == 401
    assert post(Client(), hook, {}, Authorization=basic("other", "pa55")).status_code == 401
    assert post(Client(), hook, {}, Authorization="Basic !!!").status_code == 401
    assert post(Client(), hook, {}, Authorization=basic("shop", "pa55")).status_code == 202


def test_timestamp_tolerance_refuses_replays(make_webhook):
    hook = make_webhook(hmac_check=False, validation={"timestamp": {"header": "X-Timestamp", "tolerance_seconds": 60}})
    now = int(time.time())
    assert post(Client(), hook, {}, X_Timestamp=str(now - 3600)).status_code == 401
    assert post(Client(), hook, {}).status_code == 401
    assert post(Client(), hook, {}, X_Timestamp=str(now)).status_code == 202
    assert post(Client(), hook, {}, X_Timestamp=str(now * 1000)).status_code == 202  # milliseconds


def test_ip_allow_list(make_webhook):
    hook = make_webhook(hmac_check=False, validation={"ip_allowlist": ["10.1.0.0/16"]})
    assert post(Client(), hook, {}, REMOTE_ADDR="127.0.0.1").status_code == 403
    assert Client().generic("POST", hook.hook_path, b"{}", content_type="application/json",
                            REMOTE_ADDR="10.1.2.3").status_code == 202


def test_only_post(make_webhook):
    hook = make_webhook()
    assert Client().get(hook.hook_path).status_code == 405
