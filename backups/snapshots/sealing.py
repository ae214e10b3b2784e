"""Envelope encryption of snapshot content (format 3, docs/snapshot-format.md → Encryption).

Every object (shard or attachment bytes) and every manifest of a tenant's sites is sealed with
the tenant's *snapshot data key* (``tenants.keys`` scope ``snapshots/tenant-{id}``), itself
wrapped by a key-encryption key (``FIELD_ENCRYPTION_KEYS`` or a KMS key, ``tenants.keys_wrapping``)
in the key store. Three keys are derived from the data key (HKDF-SHA256):

- ``name``: an object is stored under ``HMAC(name key, SHA-256 of its plaintext)``, so content
  addressing (an attachment stored once, an unchanged shard reused) still works within a tenant
  while identical files of two tenants have unrelated names;
- ``seal``: AES-256-GCM over segments of ``SEGMENT`` bytes; the associated data binds the object
  name, the segment number and whether it is the last one (no reordering, no truncation, no
  object moved under another name);
- ``nonce``: each segment's nonce is ``HMAC(nonce key, plaintext SHA-256 ‖ segment number)``
  (stored before the segment), so the same plaintext always seals to the same bytes (two
  writers of one object agree) and one nonce never seals two different plaintexts.

A sealed object is ``HEADER`` (magic, data key id, segment size, SHA-256 of the sealed body)
followed by the sealed segments: the body digest lets anyone check the stored bytes without the
key (bit rot, truncation); opening them needs the key. Rotating the KEK re-wraps the data key
only: no object is rewritten. Destroying the data key (offboarding) shreds every object at once.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import struct
import uuid
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from backups.snapshots.shards import ShardError
from tenants import keys
from tenants.exceptions import DecryptionError

MAGIC = b"JBPSEAL1"
SEGMENT = 1024 * 1024
NONCE = 12
TAG = 16
OVERHEAD = NONCE + TAG  # per segment: its nonce before, the GCM tag after
_HEADER = struct.Struct(">8s16sI32s")
HEADER = _HEADER.size  # 60 bytes


class SealedObjectError(ShardError, OSError):
    """A sealed object that does not open: damaged, truncated, or sealed with another key.
    Both a ``ShardError`` (a damaged snapshot, in the failure map) and an ``OSError`` (what
    readers of stored bytes already handle as unreadable)."""


def tenant_scope(tenant_id: int) -> str:
    return f"snapshots/tenant-{int(tenant_id)}"


@dataclass(frozen=True)
class SnapshotKey:
    """A tenant's snapshot data key and the keys derived from it."""

    scope: str
    key_id: str  # 32 hex digits
    name_key: bytes = field(repr=False)
    seal_key: bytes = field(repr=False)
    nonce_key: bytes = field(repr=False)

    @classmethod
    def of(cls, scope: str, key_id: str, data_key: bytes) -> SnapshotKey:
        def derive(label: str) -> bytes:
            info = f"jbp-snapshots/{label}".encode()
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(data_key)

        return cls(scope, key_id, derive("name"), derive("seal"), derive("nonce"))

    def name(self, sha256: str) -> str:
        """The storage name of the object whose plaintext hashes to ``sha256``."""
        return hmac.new(self.name_key, bytes.fromhex(sha256), hashlib.sha256).hexdigest()

    def _nonce(self, sha256: str, index: int) -> bytes:
        msg = bytes.fromhex(sha256) + index.to_bytes(8, "big")
        return hmac.new(self.nonce_key, msg, hashlib.sha256).digest()[:12]

    def _aad(self, name: str, index: int, last: bool) -> bytes:
        return f"jbp-object:{name}:{index}:{int(last)}".encode()

    # ----------------------------------------------------------------------- objects

    def seal_stream(self, sha256: str, plain: io.RawIOBase | io.BufferedIOBase, out) -> int:
        """Seal the plaintext read from ``plain`` (whose SHA-256 is ``sha256``) into ``out``
        (a seekable file); returns the number of bytes written."""
        name = self.name(sha256)
        aead = AESGCM(self.seal_key)
        out.write(b"\0" * HEADER)
        body = hashlib.sha256()
        written = HEADER
        index = 0
        chunk = plain.read(SEGMENT)
        while True:
            following = plain.read(SEGMENT) if len(chunk) == SEGMENT else b""
            last = not following
            nonce = self._nonce(sha256, index)
            sealed = nonce + aead.encrypt(nonce, chunk, self._aad(name, index, last))
            out.write(sealed)
            body.update(sealed)
            written += len(sealed)
            if last:
                break
            chunk, index = following, index + 1
        out.seek(0)
        out.write(_HEADER.pack(MAGIC, uuid.UUID(self.key_id).bytes, SEGMENT, body.digest()))
        out.seek(0)
        return written

    def seal_bytes(self, sha256: str, data: bytes) -> bytes:
        out = io.BytesIO()
        self.seal_stream(sha256, io.BytesIO(data), out)
        return out.getvalue()

    def open_stream(self, name: str, sealed) -> SealedReader:
        return SealedReader(self, name, sealed)

    # ----------------------------------------------------------------------- manifests

    def seal_document(self, data: bytes, *, aad: bytes) -> bytes:
        nonce = _random_nonce()
        return nonce + AESGCM(self.seal_key).encrypt(nonce, data, b"jbp-document:" + aad)

    def open_document(self, sealed: bytes, *, aad: bytes, label: str) -> bytes:
        try:
            return AESGCM(self.seal_key).decrypt(sealed[:12], sealed[12:], b"jbp-document:" + aad)
        except (InvalidTag, ValueError):
            raise DecryptionError(
                f"{label} does not open with data key {self.key_id} of {self.scope}: "
                "tampered with, or sealed for another tenant or snapshot"
            ) from None


def _random_nonce() -> bytes:
    return os.urandom(NONCE)


def plain_size(stored: int) -> int | None:
    """The plaintext size of a sealed object of ``stored`` bytes (None: not a possible size)."""
    body = stored - HEADER
    if body < OVERHEAD:
        return None
    segments = -(-body // (SEGMENT + OVERHEAD))
    size = body - segments * OVERHEAD
    return size if size >= 0 else None


def sealed_size(plain: int) -> int:
    segments = max(1, -(-plain // SEGMENT))
    return HEADER + plain + segments * OVERHEAD


@dataclass(frozen=True)
class Header:
    key_id: str
    segment: int
    body_sha256: bytes


def read_header(raw: bytes, *, label: str) -> Header:
    if len(raw) < HEADER:
        raise SealedObjectError(f"{label} is truncated (no header)")
    magic, key_id, segment, digest = _HEADER.unpack(raw[:HEADER])
    if magic != MAGIC or segment <= 0:
        raise SealedObjectError(f"{label} is not a sealed object")
    return Header(uuid.UUID(bytes=key_id).hex, segment, digest)


class SealedReader(io.RawIOBase):
    """The plaintext of a sealed object, opened segment by segment (one segment in memory)."""

    def __init__(self, key: SnapshotKey, name: str, sealed) -> None:
        self._key, self._name, self._fh = key, name, sealed
        header = read_header(sealed.read(HEADER), label=f"object {name}")
        if header.key_id != key.key_id:
            raise SealedObjectError(
                f"object {name} is sealed with data key {header.key_id}, not {key.key_id}"
            )
        self._segment = header.segment
        self._aead = AESGCM(key.seal_key)
        self._index = 0
        self._buffer = memoryview(b"")
        self._next = sealed.read(self._segment + OVERHEAD)
        self._done = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        current = self._next
        self._next = self._fh.read(self._segment + OVERHEAD)
        last = not self._next
        try:
            plain = self._aead.decrypt(
                current[:NONCE], current[NONCE:], self._key._aad(self._name, self._index, last)
            )
        except (InvalidTag, ValueError):
            raise SealedObjectError(
                f"object {self._name}: segment {self._index} failed authentication (damaged, "
                "truncated, or not this tenant's)"
            ) from None
        self._buffer = memoryview(plain)
        self._index += 1
        self._done = last

    def readinto(self, b) -> int:
        while not self._buffer and not self._done:
            self._fill()
        n = min(len(b), len(self._buffer))
        b[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def close(self) -> None:
        try:
            self._fh.close()
        finally:
            super().close()


def enabled() -> bool:
    return bool(getattr(settings, "SNAPSHOT_ENCRYPTION", True))


def key_for_tenant(tenant_id: int, *, create: bool = True) -> SnapshotKey | None:
    """The tenant's active snapshot key (created on first use unless ``create`` is False)."""
    scope = tenant_scope(tenant_id)
    if not create:
        from django.apps import apps

        registry = apps.get_model("tenants", "DataKey")
        key_id = (
            registry.objects.filter(scope=scope, state="active")
            .values_list("id", flat=True)
            .first()
        )
        if key_id is None:
            return None
        return SnapshotKey.of(scope, key_id.hex, keys.data_key(scope, key_id.hex))
    active = keys.active_key(scope)
    return SnapshotKey.of(scope, active.id, active.key)


def key_by_id(scope: str, key_id: str) -> SnapshotKey:
    return SnapshotKey.of(scope, key_id, keys.data_key(scope, key_id))
