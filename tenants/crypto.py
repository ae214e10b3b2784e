"""Field encryption at rest: AES-256-GCM with keys from ``settings.FIELD_ENCRYPTION_KEYS``.

A token reads ``v1:{key_id}:{urlsafe-b64(nonce || ciphertext || tag)}``. The first configured key
encrypts; every configured key decrypts, so keys rotate by prepending a new one, running
``manage.py rotate_encryption_keys`` and then dropping the old one.

Callers pass associated data (the model label, field name and primary key, see
``tenants.fields``) so a ciphertext copied to another row or field fails authentication instead
of decrypting there. Keys are read at call time so ``override_settings`` and a rolling deploy with
a new key list both behave.

Errors never carry plaintext, ciphertext or key material: only the key id and the caller's label.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

VERSION = "v1"
_NONCE_BYTES = 12  # the GCM standard nonce; random per message (2^32 messages per key is fine)


class DecryptionError(Exception):
    """A stored secret could not be decrypted (unknown key id, tampered, or moved)."""


def _keys() -> list[tuple[str, bytes]]:
    keys = getattr(settings, "FIELD_ENCRYPTION_KEYS", None)
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: cannot encrypt or decrypt")
    return list(keys)


def primary_key_id() -> str:
    """The id of the key that encrypts new values."""
    return _keys()[0][0]


def _bound(key_id: str, aad: bytes) -> bytes:
    # Bind the version and key id too, so rewriting the tag of a token cannot go unnoticed.
    return f"{VERSION}:{key_id}:".encode() + aad


def encrypt(plaintext: str, *, aad: bytes) -> str:
    key_id, key = _keys()[0]
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), _bound(key_id, aad))
    return f"{VERSION}:{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def _split(token: str) -> tuple[str, str]:
    version, sep1, rest = token.partition(":")
    key_id, sep2, payload = rest.partition(":")
    if version != VERSION or not sep1 or not sep2 or not key_id or not payload:
        raise DecryptionError("stored secret is not in the v1:{key_id}:{data} format")
    return key_id, payload


def key_id_of(token: str) -> str:
    """The id of the key a token was encrypted with (no decryption)."""
    return _split(token)[0]


def decrypt(token: str, *, aad: bytes, label: str = "stored secret") -> str:
    """Decrypt ``token``; ``label`` (no secrets in it) names the value in the error message."""
    key_id, payload = _split(token)
    key = dict(_keys()).get(key_id)
    if key is None:
        raise DecryptionError(
            f"{label} is encrypted with key id {key_id!r}, which is not in FIELD_ENCRYPTION_KEYS"
        )
    try:
        raw = base64.urlsafe_b64decode(payload.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise DecryptionError(f"{label} is not valid base64") from None
    if len(raw) <= _NONCE_BYTES + 16:
        raise DecryptionError(f"{label} is truncated")
    try:
        plaintext = AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _bound(key_id, aad))
    except InvalidTag:
        # `from None`: the cryptography traceback adds nothing and must not tempt anyone to log more.
        raise DecryptionError(
            f"{label} failed authentication with key id {key_id!r}: it was tampered with, "
            "or copied from another row or field"
        ) from None
    return plaintext.decode("utf-8")
