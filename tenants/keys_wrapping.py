"""Key-encryption keys: what wraps a data key before it goes to the key store.

``KeyWrapper`` is the seam a KMS slots into (issue 22): ``generate`` maps to KMS
``GenerateDataKey``, ``unwrap`` to ``Decrypt`` and ``wrap`` to ``Encrypt`` (or ``ReEncrypt``), the
``context`` to the ``EncryptionContext``, and a KEK id to a key ARN or alias.

- ``LocalKeyWrapper``: AES-256-GCM under ``settings.FIELD_ENCRYPTION_KEYS`` (separate from
  ``SECRET_KEY``; the first key wraps, every key unwraps);
- ``KmsKeyWrapper``: AWS KMS through boto3, under ``settings.KMS_KEYS`` (``kek_id=key ARN or
  alias``, newest first). The KEK id (short, safe in a key-store name and the registry) stands
  for the key; the KMS key never leaves KMS.

``wrapper()`` combines them: with ``KMS_KEYS`` set its first key wraps new data keys, otherwise
the first ``FIELD_ENCRYPTION_KEYS`` key does; every configured key of either kind unwraps, so
moving from local keys to KMS (or back) is a rotation (``rotate_encryption_keys``).
"""

from __future__ import annotations

import json
import os
import re
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


class KmsKeyWrapper:
    """Wraps data keys with AWS KMS keys: ``keys`` is ``[(kek id, key ARN or alias)]``, the
    first wraps. KMS errors (a disabled or deleted key, no permission, KMS unreachable) become
    ``crypto.DecryptionError`` naming the KEK id and KMS's error code, never key material."""

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        self.keys = list(keys)

    def key_ids(self) -> list[str]:
        return [kek_id for kek_id, _ in self.keys]

    def _client(self):
        import boto3
        from django.conf import settings

        return boto3.client(
            "kms",
            region_name=getattr(settings, "KMS_REGION_NAME", None) or "us-east-1",
            endpoint_url=getattr(settings, "KMS_ENDPOINT_URL", None) or None,
        )

    def _arn(self, kek_id: str) -> str:
        arn = dict(self.keys).get(kek_id)
        if arn is None:
            raise crypto.DecryptionError(f"KEK id {kek_id!r} is not a configured KMS key")
        return arn

    def generate(self, *, context: dict[str, str]) -> tuple[bytes, str, bytes]:
        kek_id = self.keys[0][0]
        response = self._call(
            kek_id,
            "generate_data_key",
            KeyId=self._arn(kek_id),
            KeySpec="AES_256",
            EncryptionContext=context,
        )
        return response["Plaintext"], kek_id, response["CiphertextBlob"]

    def wrap(self, key: bytes, *, context: dict[str, str]) -> tuple[str, bytes]:
        kek_id = self.keys[0][0]
        response = self._call(
            kek_id, "encrypt", KeyId=self._arn(kek_id), Plaintext=key, EncryptionContext=context
        )
        return kek_id, response["CiphertextBlob"]

    def unwrap(self, kek_id: str, wrapped: bytes, *, context: dict[str, str]) -> bytes:
        self.check_enabled(kek_id)
        response = self._call(
            kek_id,
            "decrypt",
            KeyId=self._arn(kek_id),
            CiphertextBlob=wrapped,
            EncryptionContext=context,
        )
        key = response["Plaintext"]
        if len(key) != DATA_KEY_BYTES:
            raise crypto.DecryptionError(f"data key {context.get('data_key', '?')}: wrong length")
        return key

    def check_enabled(self, kek_id: str) -> None:
        """``KmsKeyUnavailable`` unless the key is enabled (a disabled key or one pending
        deletion is named by its state, as KMS's own Decrypt would refuse it)."""
        meta = self._call(kek_id, "describe_key", KeyId=self._arn(kek_id))["KeyMetadata"]
        state = meta.get("KeyState", "Enabled")
        if state != "Enabled":
            code = "DisabledException" if state == "Disabled" else "KMSInvalidStateException"
            raise KmsKeyUnavailable(kek_id, f"{code}: key state {state}")

    def _call(self, kek_id: str, operation: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client(), operation)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise KmsKeyUnavailable(kek_id, code) from None
        except BotoCoreError as exc:
            raise KmsKeyUnavailable(kek_id, type(exc).__name__) from None


class KmsKeyUnavailable(crypto.DecryptionError):
    """KMS refused or could not be reached for a key (``code``: KMS's error code, e.g.
    ``DisabledException``, ``KMSInvalidStateException``, ``AccessDeniedException``)."""

    def __init__(self, kek_id: str, code: str) -> None:
        self.kek_id, self.code = kek_id, code
        super().__init__(f"KMS key {kek_id} is unavailable ({code})")

    @property
    def disabled(self) -> bool:
        """The key itself is off (disabled, pending deletion, gone), not KMS unreachable."""
        return self.code.split(":")[0] in {
            "DisabledException",
            "KMSInvalidStateException",
            "NotFoundException",
        }


class CombinedKeyWrapper:
    """KMS keys first (when configured), then local ones; each KEK id unwraps with its kind."""

    def __init__(self, kms: KmsKeyWrapper | None, local: LocalKeyWrapper) -> None:
        self.kms, self.local = kms, local

    def _primary(self) -> KeyWrapper:
        return self.kms if self.kms is not None else self.local

    def key_ids(self) -> list[str]:
        return (self.kms.key_ids() if self.kms else []) + self.local.key_ids()

    def generate(self, *, context: dict[str, str]) -> tuple[bytes, str, bytes]:
        return self._primary().generate(context=context)

    def wrap(self, key: bytes, *, context: dict[str, str]) -> tuple[str, bytes]:
        return self._primary().wrap(key, context=context)

    def unwrap(self, kek_id: str, wrapped: bytes, *, context: dict[str, str]) -> bytes:
        if self.kms is not None and kek_id in self.kms.key_ids():
            return self.kms.unwrap(kek_id, wrapped, context=context)
        return self.local.unwrap(kek_id, wrapped, context=context)


CUSTOMER_KEK_PREFIX = "cmk"
_TENANT_SCOPE = re.compile(r"snapshots/tenant-(\d+)")


def customer_kek_id(tenant_id: int) -> str:
    """The KEK id of a tenant's own (customer-managed) KMS key."""
    return f"{CUSTOMER_KEK_PREFIX}{int(tenant_id)}"


def is_customer_kek(kek_id: str) -> bool:
    return kek_id.startswith(CUSTOMER_KEK_PREFIX)


def wrapper(scope: str | None = None) -> KeyWrapper:
    """The wrapper for data keys: ``KMS_KEYS`` when configured, then ``FIELD_ENCRYPTION_KEYS``.
    A tenant's snapshot key (scope ``snapshots/tenant-{id}``) whose tenant named its own KMS
    key (``Tenant.kms_key_id``, customer-managed) is wrapped by that key instead; the platform's
    keys still unwrap copies made before."""
    from django.apps import apps
    from django.conf import settings

    kms_keys = list(getattr(settings, "KMS_KEYS", None) or [])
    match = _TENANT_SCOPE.fullmatch(scope or "")
    if match:
        tenant_model = apps.get_model("tenants", "Tenant")
        own = (
            tenant_model.objects.filter(pk=int(match.group(1)))
            .values_list("kms_key_id", flat=True)
            .first()
        )
        if own:
            kms_keys = [(customer_kek_id(int(match.group(1))), own), *kms_keys]
    return CombinedKeyWrapper(KmsKeyWrapper(kms_keys) if kms_keys else None, LocalKeyWrapper())


def primary_key_id() -> str:
    """The KEK id that wraps new data keys."""
    return wrapper().key_ids()[0]
