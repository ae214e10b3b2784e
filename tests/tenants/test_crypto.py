import base64

import pytest

from tenants import crypto, keys
from tenants.fields import associated_data, scope_of
from tenants.models import DataKey, LegacyCredential, OAuthGrant
from tests.factories import LegacyCredentialFactory, OAuthGrantFactory

pytestmark = pytest.mark.django_db

NEW_KEY = ("test2", b"n" * 32)


def _data_key_of(token: str) -> str:
    version, key_id = crypto.parse(token)
    assert version == "v2"
    return key_id


def test_a_model_keeps_only_ciphertext_in_its_columns():
    grant = OAuthGrantFactory(refresh_token="refresh-plain", access_token="access-plain")
    stored = OAuthGrant.objects.values("refresh_token_ciphertext", "access_token_ciphertext").get()
    assert stored["refresh_token_ciphertext"].startswith("v2:")
    assert "refresh-plain" not in str(stored)
    fresh = OAuthGrant.objects.get(pk=grant.pk)
    assert fresh.refresh_token == "refresh-plain"
    assert fresh.access_token == "access-plain"


def test_each_row_has_its_own_data_key_shared_by_its_secrets():
    one, two = OAuthGrantFactory(), OAuthGrantFactory()
    assert _data_key_of(one.access_token_ciphertext) == _data_key_of(one.refresh_token_ciphertext)
    assert _data_key_of(one.refresh_token_ciphertext) != _data_key_of(two.refresh_token_ciphertext)
    assert set(DataKey.objects.values_list("scope", "state", "kek_id")) == {
        (scope_of(one), "active", "test1"),
        (scope_of(two), "active", "test1"),
    }


def test_it_uses_a_fresh_nonce_every_time():
    grant = OAuthGrantFactory(refresh_token="same")
    first = grant.refresh_token_ciphertext
    grant.refresh_token = "same"
    assert grant.refresh_token_ciphertext != first


def test_a_value_sealed_with_a_key_encryption_key_directly_still_decrypts():
    """``v1`` values, from before data keys, decrypt until rotation re-seals them."""
    grant = OAuthGrantFactory()
    legacy = crypto.encrypt_v1("from-before", aad=associated_data(grant, "refresh_token"))
    OAuthGrant.objects.filter(pk=grant.pk).update(refresh_token_ciphertext=legacy)
    assert legacy.startswith("v1:test1:")
    assert OAuthGrant.objects.get(pk=grant.pk).refresh_token == "from-before"


def test_it_refuses_a_tampered_ciphertext_without_revealing_anything(settings):
    grant = OAuthGrantFactory(refresh_token="plain-secret")
    prefix, body = grant.refresh_token_ciphertext.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-1] ^= 1
    tampered = f"{prefix}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    OAuthGrant.objects.filter(pk=grant.pk).update(refresh_token_ciphertext=tampered)
    with pytest.raises(crypto.DecryptionError) as caught:
        OAuthGrant.objects.get(pk=grant.pk).refresh_token
    message = str(caught.value)
    assert "tampered" in message
    assert "plain-secret" not in message
    assert body not in message
    key = keys.data_key(scope_of(grant), _data_key_of(grant.refresh_token_ciphertext))
    for secret_key in [key, *(k for _, k in settings.FIELD_ENCRYPTION_KEYS)]:
        assert base64.urlsafe_b64encode(secret_key).decode() not in message
        assert base64.b64encode(secret_key).decode() not in message


def test_it_refuses_a_ciphertext_whose_key_id_was_rewritten():
    grant = OAuthGrantFactory()
    token = grant.refresh_token_ciphertext
    other = _data_key_of(OAuthGrantFactory().refresh_token_ciphertext)
    rewritten = token.replace(_data_key_of(token), other)
    OAuthGrant.objects.filter(pk=grant.pk).update(refresh_token_ciphertext=rewritten)
    with pytest.raises(crypto.DecryptionError):
        OAuthGrant.objects.get(pk=grant.pk).refresh_token


def test_it_names_the_key_encryption_keys_a_data_key_needs(settings):
    grant = OAuthGrantFactory()
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]  # also forgets this process's unwrapped keys
    with pytest.raises(
        crypto.DecryptionError,
        match=r"wrapped only by KEK ids \['test1'\], none of which is in FIELD_ENCRYPTION_KEYS",
    ):
        OAuthGrant.objects.get(pk=grant.pk).refresh_token


def test_it_names_an_unknown_key_encryption_key_of_a_v1_value(settings):
    grant = OAuthGrantFactory()
    legacy = crypto.encrypt_v1("x", aad=associated_data(grant, "refresh_token"))
    OAuthGrant.objects.filter(pk=grant.pk).update(refresh_token_ciphertext=legacy)
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(crypto.DecryptionError, match=r"'test1'.*not in FIELD_ENCRYPTION_KEYS"):
        OAuthGrant.objects.get(pk=grant.pk).refresh_token


def test_it_refuses_garbage():
    grant = OAuthGrantFactory()
    for garbage in ["plaintext", "v1:test1:", "v1:test1:!!!", "v1:test1:AAAA", "v2:nokey:AAAA"]:
        OAuthGrant.objects.filter(pk=grant.pk).update(refresh_token_ciphertext=garbage)
        with pytest.raises(crypto.DecryptionError):
            OAuthGrant.objects.get(pk=grant.pk).refresh_token


def test_a_ciphertext_copied_to_another_row_does_not_decrypt():
    victim, other = OAuthGrantFactory(), OAuthGrantFactory()
    OAuthGrant.objects.filter(pk=other.pk).update(
        refresh_token_ciphertext=victim.refresh_token_ciphertext
    )
    moved = OAuthGrant.objects.get(pk=other.pk)
    with pytest.raises(crypto.DecryptionError, match="not in the key store"):
        moved.refresh_token


def test_a_ciphertext_copied_to_another_field_does_not_decrypt():
    grant = OAuthGrantFactory()
    OAuthGrant.objects.filter(pk=grant.pk).update(
        access_token_ciphertext=grant.refresh_token_ciphertext
    )
    moved = OAuthGrant.objects.get(pk=grant.pk)
    with pytest.raises(crypto.DecryptionError, match="copied from another row or field") as caught:
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
