import base64

import pytest

from tenants import crypto
from tenants.models import LegacyCredential, OAuthGrant
from tests.factories import LegacyCredentialFactory, OAuthGrantFactory

pytestmark = pytest.mark.django_db

NEW_KEY = ("test2", b"n" * 32)


def test_it_round_trips_a_secret():
    token = crypto.encrypt("s3cret-value", aad=b"row-1")
    assert crypto.decrypt(token, aad=b"row-1") == "s3cret-value"
    assert "s3cret" not in token


def test_it_tags_each_ciphertext_with_the_first_keys_id(settings):
    token = crypto.encrypt("x", aad=b"a")
    assert token.startswith("v1:test1:")
    assert crypto.key_id_of(token) == "test1"
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    assert crypto.key_id_of(crypto.encrypt("x", aad=b"a")) == "test2"


def test_it_decrypts_with_any_configured_key(settings):
    old = crypto.encrypt("still readable", aad=b"a")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    assert crypto.decrypt(old, aad=b"a") == "still readable"


def test_it_uses_a_fresh_nonce_every_time():
    assert crypto.encrypt("same", aad=b"a") != crypto.encrypt("same", aad=b"a")


def test_it_refuses_a_tampered_ciphertext_without_revealing_anything(settings):
    token = crypto.encrypt("plain-secret", aad=b"a")
    prefix, body = token.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-1] ^= 1
    tampered = f"{prefix}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(crypto.DecryptionError) as caught:
        crypto.decrypt(tampered, aad=b"a")
    message = str(caught.value)
    assert "tampered" in message
    assert "plain-secret" not in message
    assert body not in message
    for _, key in settings.FIELD_ENCRYPTION_KEYS:
        assert base64.urlsafe_b64encode(key).decode() not in message


def test_it_refuses_a_ciphertext_whose_key_id_was_rewritten():
    token = crypto.encrypt("x", aad=b"a")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token.replace("v1:test1:", "v1:test0:"), aad=b"a")


def test_it_names_an_unknown_key_id(settings):
    token = crypto.encrypt("x", aad=b"a")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(crypto.DecryptionError, match=r"'test1'.*not in FIELD_ENCRYPTION_KEYS"):
        crypto.decrypt(token, aad=b"a")


def test_it_refuses_garbage():
    for garbage in ["", "plaintext", "v1:test1:", "v1:test1:!!!", "v1:test1:AAAA"]:
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(garbage, aad=b"a")


def test_a_model_keeps_only_ciphertext_in_its_columns():
    grant = OAuthGrantFactory(refresh_token="refresh-plain", access_token="access-plain")
    stored = OAuthGrant.objects.values("refresh_token_ciphertext", "access_token_ciphertext").get()
    assert stored["refresh_token_ciphertext"].startswith("v1:test1:")
    assert "refresh-plain" not in str(stored)
    fresh = OAuthGrant.objects.get(pk=grant.pk)
    assert fresh.refresh_token == "refresh-plain"
    assert fresh.access_token == "access-plain"


def test_a_ciphertext_copied_to_another_row_does_not_decrypt():
    victim, other = OAuthGrantFactory(), OAuthGrantFactory()
    OAuthGrant.objects.filter(pk=other.pk).update(
        refresh_token_ciphertext=victim.refresh_token_ciphertext
    )
    moved = OAuthGrant.objects.get(pk=other.pk)
    with pytest.raises(crypto.DecryptionError, match="copied from another row or field"):
        moved.refresh_token


def test_a_ciphertext_copied_to_another_field_does_not_decrypt():
    grant = OAuthGrantFactory()
    OAuthGrant.objects.filter(pk=grant.pk).update(
        access_token_ciphertext=grant.refresh_token_ciphertext
    )
    moved = OAuthGrant.objects.get(pk=grant.pk)
    with pytest.raises(crypto.DecryptionError) as caught:
        moved.access_token
    assert "OAuthGrant.access_token" in str(caught.value)


def test_a_ciphertext_copied_to_another_model_does_not_decrypt():
    grant = OAuthGrantFactory()
    credential = LegacyCredentialFactory(customer_app=True)
    LegacyCredential.objects.filter(pk=credential.pk).update(id=grant.pk)
    LegacyCredential.objects.filter(pk=grant.pk).update(
        refresh_token_ciphertext=grant.refresh_token_ciphertext
    )
    with pytest.raises(crypto.DecryptionError):
        LegacyCredential.objects.get(pk=grant.pk).refresh_token


def test_an_empty_secret_is_stored_as_null():
    grant = OAuthGrantFactory(access_token=None)
    assert grant.access_token_ciphertext is None
    assert grant.access_token is None
