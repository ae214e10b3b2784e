"""Key-encryption keys: what wraps a data key before it goes to the key store.

``KeyWrapper`` is the seam a KMS slots into (issue 22): ``generate`` maps to KMS
``GenerateDataKey``, ``unwrap`` to ``Decrypt`` and ``wrap`` to ``Encrypt`` (or ``ReEncrypt``), the
``context`` to the ``EncryptionContext``, and a KEK id to a key ARN or alias. Today the one
implementation is ``LocalKeyWrapper``: AES-256-GCM under ``settings.FIELD_ENCRYPTION_KEYS``
(separate from ``SECRET_KEY``; the first key wraps, every key unwraps).
"""

from __future__ import annotations

import json
import os
from typing import Protocol

from tenants import crypto

DATA_KEY_BYTES = 32  # AES-256


class KeyWrapper(Protocol):
    def key_ids(self) -> list[str]:
        """Every KEK id this wrapper can unwrap with, the one that wraps new keys first."""
        ...

    def generate(self, *, context: dict[str, str]) -> tuple[bytes, str, bytes]:
        """A fresh data key: ``(plaintext key, kek id, wrapped key)``."""
        ...

    def wrap(self, key: bytes, *, context: dict[str, str]) -> tuple[str, bytes]:
        """``(kek id, wrapped key)`` under the KEK that wraps new keys."""
        ...

    def unwrap(self, kek_id: str, wrapped: bytes, *, context: dict[str, str]) -> bytes:
        """The plaintext key; ``crypto.DecryptionError`` when the KEK is unknown or the wrapped
        key (or its context) does not authenticate."""
        ...


def _context_bytes(context: dict[str, str]) -> bytes:
    # Canonical, so the same context always authenticates (KMS compares its context the same way).
    return json.dumps(context, sort_keys=True, separators=(",", ":")).encode()


class LocalKeyWrapper:
    """Wraps data keys with AES-256-GCM under ``FIELD_ENCRYPTION_KEYS``."""

    def key_ids(self) -> list[str]:
        return [key_id for key_id, _ in crypto.master_keys()]

    def generate(self, *, context: dict[str, str]) -> tuple[bytes, str, bytes]:
        key = os.urandom(DATA_KEY_BYTES)
        kek_id, wrapped = self.wrap(key, context=context)
        return key, kek_id, wrapped

    def wrap(self, key: bytes, *, context: dict[str, str]) -> tuple[str, bytes]:
        kek_id, kek = crypto.master_keys()[0]
        return kek_id, crypto.seal(kek, key, aad=_aad(kek_id, context))

    def unwrap(self, kek_id: str, wrapped: bytes, *, context: dict[str, str]) -> bytes:
        label = f"data key {context.get('data_key', '?')}"
        kek = crypto.master_key(kek_id, label=label)
        key = crypto.unseal(kek, wrapped, aad=_aad(kek_id, context), label=label)
        if len(key) != DATA_KEY_BYTES:
            raise crypto.DecryptionError(f"{label} has the wrong length")
        return key


def _aad(kek_id: str, context: dict[str, str]) -> bytes:
    return f"kek:{kek_id}:".encode() + _context_bytes(context)


def wrapper() -> KeyWrapper:
    """The wrapper for data keys (one for all scopes today; a per-tenant customer-managed KMS key
    would choose here)."""
    return LocalKeyWrapper()
