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
