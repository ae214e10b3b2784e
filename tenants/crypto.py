"""Field encryption at rest: AES-256-GCM, and the token format that names the key of a value.

A stored secret reads ``{version}:{key_id}:{urlsafe-b64(nonce || ciphertext || tag)}``:

- ``v2:{data_key_id}:…`` — sealed with a *data key* (``tenants.keys``): one per secret-bearing
  row, kept wrapped in the key store outside the database. Every new value is written this way.
- ``v1:{kek_id}:…`` — sealed directly with a key of ``settings.FIELD_ENCRYPTION_KEYS`` (before
  data keys existed). Still decrypts; migration 0009 and ``manage.py rotate_encryption_keys``
  rewrite such values as ``v2``. Nothing writes ``v1`` any more.

``FIELD_ENCRYPTION_KEYS`` are the key-encryption keys (KEKs): the first wraps new data keys,
every one unwraps. Keys are read at call time so ``override_settings`` and a rolling deploy with a
new key list both behave.

Callers pass associated data (the model label, field name and primary key, see
``tenants.fields``); the version and key id are bound in too, so a token copied to another row or
field, or whose key id was rewritten, fails authentication instead of decrypting. Errors never
carry plaintext, ciphertext or key material: only the key id and the caller's label.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tenants.exceptions import DecryptionError

VERSION = "v2"  # sealed with a data key
LEGACY_VERSION = "v1"  # sealed with a key-encryption key directly
_NONCE_BYTES = 12  # the GCM standard nonce; random per message (2^32 messages per key is fine)
_TAG_BYTES = 16


def master_keys() -> list[tuple[str, bytes]]:
    """The key-encryption keys, newest (the one that wraps) first."""
    keys = getattr(settings, "FIELD_ENCRYPTION_KEYS", None)
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: cannot encrypt or decrypt")
    return list(keys)


def primary_key_id() -> str:
    """The id of the key-encryption key that wraps new data keys."""
    return master_keys()[0][0]


def master_key(key_id: str, *, label: str) -> bytes:
    key = dict(master_keys()).get(key_id)
    if key is None:
        raise DecryptionError(
            f"{label} is encrypted with key id {key_id!r}, which is not in FIELD_ENCRYPTION_KEYS"
        )
    return key


def seal(key: bytes, plaintext: bytes, *, aad: bytes) -> bytes:
    """``nonce || ciphertext || tag`` of ``plaintext`` under ``key``."""
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, sealed: bytes, *, aad: bytes, label: str) -> bytes:
    if len(sealed) <= _NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError(f"{label} is truncated")
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], aad)
    except InvalidTag:
        # `from None`: the cryptography traceback adds nothing and must not tempt anyone to log more.
        raise DecryptionError(
            f"{label} failed authentication: it was tampered with, or copied from another row or "
            "field, or sealed with another key"
        ) from None


def _bound(version: str, key_id: str, aad: bytes) -> bytes:
    # Bind the version and key id too, so rewriting the tag of a token cannot go unnoticed.
    return f"{version}:{key_id}:".encode() + aad


def seal_token(version: str, key_id: str, key: bytes, plaintext: str, *, aad: bytes) -> str:
    sealed = seal(key, plaintext.encode("utf-8"), aad=_bound(version, key_id, aad))
    return f"{version}:{key_id}:{base64.urlsafe_b64encode(sealed).decode('ascii')}"


def parse(token: str) -> tuple[str, str]:
    """``(version, key_id)`` of a token, without decrypting it."""
    version, sep1, rest = token.partition(":")
    key_id, sep2, payload = rest.partition(":")
    if version not in (VERSION, LEGACY_VERSION) or not (sep1 and sep2 and key_id and payload):
        raise DecryptionError("stored secret is not in the {version}:{key_id}:{data} format")
    return version, key_id


def unseal_token(token: str, key: bytes, *, aad: bytes, label: str = "stored secret") -> str:
    """Decrypt ``token`` with ``key`` (the key its id names); ``label`` (no secrets in it) names
    the value in the error message."""
    version, key_id = parse(token)
    payload = token.split(":", 2)[2]
    try:
        raw = base64.urlsafe_b64decode(payload.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise DecryptionError(f"{label} is not valid base64") from None
    try:
        plaintext = unseal(key, raw, aad=_bound(version, key_id, aad), label=label)
    except DecryptionError as exc:
        raise DecryptionError(f"{exc} (key id {key_id!r})") from None
    return plaintext.decode("utf-8")


def encrypt_v1(plaintext: str, *, aad: bytes) -> str:
    """A ``v1`` token under the first key-encryption key: only for migration 0009's reverse
    and for tests that need a value from before data keys."""
    key_id, key = master_keys()[0]
    return seal_token(LEGACY_VERSION, key_id, key, plaintext, aad=aad)


def decrypt_v1(token: str, *, aad: bytes, label: str = "stored secret") -> str:
    version, key_id = parse(token)
    if version != LEGACY_VERSION:
        raise DecryptionError(f"{label} is not a {LEGACY_VERSION} token")
    return unseal_token(token, master_key(key_id, label=label), aad=aad, label=label)
