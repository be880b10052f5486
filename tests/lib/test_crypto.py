import io

import pytest
from cryptography.fernet import Fernet

from lib.crypto import decrypt, encrypt


def test_round_trip_and_ciphertext_hides_plain_text():
    secret = "canary-" + "x" * 3000
    stored = encrypt(secret)
    assert secret not in stored
    assert stored.startswith("fernet:")
    assert decrypt(stored) == secret


def test_key_rotation_reads_old_values(settings):
    old_key = settings.FIELD_ENCRYPTION_KEY
    stored = encrypt("rotate-me")
    settings.FIELD_ENCRYPTION_KEY = f"{Fernet.generate_key().decode()},{old_key}"
    assert decrypt(stored) == "rotate-me"


def test_wrong_key_is_a_clear_error(settings):
    stored = encrypt("secret")
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(ValueError, match="FIELD_ENCRYPTION_KEY"):
        decrypt(stored)


def _raw(model, pk, field: str) -> str:
    """The stored column, as the database holds it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {field} FROM {model._meta.db_table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_reencrypt_secrets_moves_every_secret_to_the_first_key_so_the_old_one_can_go(settings):
    """Issue 10, item 12: a key can be retired; every EncryptedTextField of every app is found."""
    from django.core.management import call_command

    from clients.models import HttpClient, OAuthGrant
    from lib.crypto import encrypted_fields
    from webhooks.models import Webhook

    assert {f"{m._meta.label}.{f.name}" for m, f in encrypted_fields()} >= {
        "clients.HttpClient.secrets", "clients.OAuthGrant.access_token", "clients.OAuthGrant.refresh_token",
        "webhooks.Webhook.secrets"}
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old_key
    client = HttpClient.objects.create(name="rotate", kind="exact_online", config={})
    client.set_secrets({"client_secret": "canary-client-secret"})
    client.save()
    grant = OAuthGrant.objects.create(client=client, access_token="canary-access", refresh_token="canary-refresh")
    hook = Webhook.objects.create(name="rotate hook")
    hook.set_secrets({"hmac_key": "canary-hmac"})
    hook.save()
    before = _raw(OAuthGrant, grant.pk, "access_token")

    settings.FIELD_ENCRYPTION_KEY = f"{new_key},{old_key}"
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "Re-encrypted 4 value(s)" in out.getvalue()
    assert "canary" not in out.getvalue()
    assert _raw(OAuthGrant, grant.pk, "access_token") != before

    settings.FIELD_ENCRYPTION_KEY = new_key  # the old key is gone
    assert HttpClient.objects.get(pk=client.pk).get_secret("client_secret") == "canary-client-secret"
    grant = OAuthGrant.objects.get(pk=grant.pk)
    assert (grant.access_token, grant.refresh_token) == ("canary-access", "canary-refresh")
    assert Webhook.objects.get(pk=hook.pk).get_secret("hmac_key") == "canary-hmac"


@pytest.mark.django_db
def test_reencrypt_secrets_changes_nothing_when_a_value_needs_a_missing_key(settings):
    from django.core.management import CommandError, call_command

    from clients.models import HttpClient

    lost_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = lost_key
    orphan = HttpClient.objects.create(name="orphan", kind="exact_online", config={})
    orphan.set_secrets({"client_secret": "s1"})
    orphan.save()
    kept_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = kept_key
    fine = HttpClient.objects.create(name="fine", kind="exact_online", config={})
    fine.set_secrets({"client_secret": "s2"})
    fine.save()
    fine_before = _raw(HttpClient, fine.pk, "secrets")

    settings.FIELD_ENCRYPTION_KEY = f"{Fernet.generate_key().decode()},{kept_key}"
    with pytest.raises(CommandError, match=rf"nothing was changed.*clients.HttpClient.secrets pk={orphan.pk}"):
        call_command("reencrypt_secrets", stdout=io.StringIO())
    assert _raw(HttpClient, fine.pk, "secrets") == fine_before
