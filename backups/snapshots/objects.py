"""Content-addressed blobs on a django-storages backend.

Every stored object (a shard or an attachment's bytes) lives at ``objects/<name[:2]>/<name>``
of its site, so an attachment or an unchanged shard is stored once and shared by every snapshot
that references it. Writes are idempotent: an object already present with the right size is not
written again, and one with the wrong size (a writer killed mid-upload on a filesystem backend)
is replaced.

Callers name objects by the SHA-256 of their plaintext and see plaintext sizes and bytes. With
snapshot encryption (``sealing``, format 3) the store seals what it writes with the tenant's
snapshot key and stores it under ``HMAC(name key, sha256)``; it reads either form, sealed first,
so snapshots written before encryption (plain objects named by their SHA-256) stay readable.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from backups.snapshots import layout, sealing

CHUNK = 1024 * 1024
_UNSET = object()


@dataclass(frozen=True)
class ObjectRef:
    sha256: str
    size: int


def default_storage() -> Storage:
    return storages["default"]


def location_storage(location: str) -> Storage:
    """The storage of a named location (data residency; "" = the default storage)."""
    if not location:
        return default_storage()
    alias = (getattr(settings, "STORAGE_LOCATIONS", {}) or {}).get(location)
    if alias is None:
        raise ImproperlyConfigured(
            f"storage location {location!r} is not configured (STORAGE_LOCATIONS)"
        )
    return storages[alias]


def site_storage(cloud_id: str) -> Storage:
    """Where the site's objects live: its tenant's storage location."""
    from tenants.models import JiraSite

    location = (
        JiraSite.objects.filter(cloud_id=cloud_id)
        .values_list("tenant__storage_location", flat=True)
        .first()
    )
    return location_storage(location or "")


def site_key(cloud_id: str, *, create: bool) -> sealing.SnapshotKey | None:
    """The snapshot key of the tenant owning the site (None: no such site, or no key yet and
    ``create`` is False)."""
    from tenants.models import JiraSite

    tenant_id = (
        JiraSite.objects.filter(cloud_id=cloud_id).values_list("tenant_id", flat=True).first()
    )
    if tenant_id is None:
        return None
    return sealing.key_for_tenant(tenant_id, create=create)


class ObjectStore:
    """The blobs of one site.

    ``key``: the snapshot key to seal and open with; by default the site's tenant's (created on
    the first write when ``SNAPSHOT_ENCRYPTION`` is on). ``None`` reads and writes plain objects
    only (a cloud id no site of the portal has, e.g. in format tests)."""

    def __init__(self, cloud_id: str, storage: Storage | None = None, *, key=_UNSET) -> None:
        self.cloud_id = cloud_id
        self.storage = storage if storage is not None else site_storage(cloud_id)
        self._key = key
        self._seals = None if key is _UNSET else key is not None

    # ------------------------------------------------------------------ keys and names

    @property
    def key(self) -> sealing.SnapshotKey | None:
        """The key objects are opened with (None: the site has none, nothing is sealed)."""
        if self._key is _UNSET:
            self._key = site_key(self.cloud_id, create=self.seals)
        return self._key

    @property
    def seals(self) -> bool:
        """Whether new objects are sealed."""
        if self._seals is None:
            self._seals = sealing.enabled() and (
                self._key not in (_UNSET, None) or site_key_possible(self.cloud_id)
            )
        return self._seals

    def name(self, sha256: str) -> str:
        """The storage name new objects of ``sha256`` get (sealed: keyed; plain: the hash)."""
        if not layout.is_sha256(sha256):
            raise ValueError(f"{sha256!r} is not a SHA-256 hex digest")
        return self.key.name(sha256) if self.seals and self.key else sha256

    def names(self, sha256: str) -> list[str]:
        """Every storage name an object of ``sha256`` may have (sealed first)."""
        key = self.key
        return [key.name(sha256), sha256] if key is not None else [sha256]

    def _locate(self, sha256: str) -> tuple[str, bool] | None:
        """(path, sealed) of the stored object, None if absent."""
        key = self.key
        if key is not None:
            path = layout.object_path(self.cloud_id, key.name(sha256))
            if self.storage.exists(path):
                return path, True
        path = layout.object_path(self.cloud_id, sha256)
        if self.storage.exists(path):
            return path, False
        return None

    def path(self, sha256: str) -> str:
        """Where the object is stored (or would be written)."""
        found = self._locate(sha256)
        if found is not None:
            return found[0]
        return layout.object_path(self.cloud_id, self.name(sha256))

    def is_sealed(self, sha256: str) -> bool:
        found = self._locate(sha256)
        return bool(found and found[1])

    # ------------------------------------------------------------------ reading

    def exists(self, sha256: str) -> bool:
        return self._locate(sha256) is not None

    def size(self, sha256: str) -> int | None:
        """The plaintext size of the stored object (None: absent, or a sealed object whose
        stored size no plaintext can have)."""
        found = self._locate(sha256)
        if found is None:
            return None
        stored = self.storage.size(found[0])
        return sealing.plain_size(stored) if found[1] else stored

    def has(self, ref: ObjectRef) -> bool:
        return self.size(ref.sha256) == ref.size

    # ------------------------------------------------------------------ writing

    def put_bytes(self, data: bytes) -> ObjectRef:
        ref = ObjectRef(hashlib.sha256(data).hexdigest(), len(data))
        if self.seals and self.key is not None:
            if self._sealed_present(ref):
                return ref
            self._save_at(
                self._sealed_path(ref.sha256),
                sealing.sealed_size(ref.size),
                ContentFile(self.key.seal_bytes(ref.sha256, data)),
            )
            return ref
        self._save(ref, ContentFile(data))
        return ref

    def _sealed_path(self, sha256: str) -> str:
        return layout.object_path(self.cloud_id, self.key.name(sha256))

    def _sealed_present(self, ref: ObjectRef) -> bool:
        path = self._sealed_path(ref.sha256)
        return self.storage.exists(path) and self.storage.size(path) == sealing.sealed_size(
            ref.size
        )

    def put_chunks(self, chunks: Iterable[bytes]) -> ObjectRef:
        """Store a stream without holding it in memory (spooled to disk past 8 MB)."""
        digest = hashlib.sha256()
        size = 0
        with tempfile.SpooledTemporaryFile(max_size=8 * CHUNK) as spool:
            for chunk in chunks:
                if not chunk:
                    continue
                digest.update(chunk)
                size += len(chunk)
                spool.write(chunk)
            spool.seek(0)
            ref = ObjectRef(digest.hexdigest(), size)
            if not (self.seals and self.key is not None):
                self._save(ref, File(spool))
                return ref
            if self._sealed_present(ref):
                return ref
            with tempfile.SpooledTemporaryFile(max_size=8 * CHUNK) as sealed:
                self.key.seal_stream(ref.sha256, spool, sealed)
                self._save_at(
                    self._sealed_path(ref.sha256), sealing.sealed_size(ref.size), File(sealed)
                )
        return ref

    def _save(self, ref: ObjectRef, content: File) -> None:
        self._save_at(layout.object_path(self.cloud_id, ref.sha256), ref.size, content)

    def _save_at(self, path: str, size: int, content: File) -> None:
        if self.storage.exists(path):
            if self.storage.size(path) == size:
                return
            # A partial object left by a killed writer: replace it.
            self.storage.delete(path)
        saved = self.storage.save(path, content)
        if saved != path:
            # Another writer stored the same object meanwhile; ours is a duplicate.
            self.storage.delete(saved)

    def open(self, sha256: str) -> IO[bytes]:
        """The plaintext of the object (sealed objects are opened segment by segment; a damaged
        one raises ``sealing.SealedObjectError`` as it is read)."""
        found = self._locate(sha256)
        if found is None:
            raise FileNotFoundError(layout.object_path(self.cloud_id, self.name(sha256)))
        path, sealed = found
        fh = self.storage.open(path, "rb")
        if not sealed:
            return fh
        try:
            return io.BufferedReader(self.key.open_stream(self.key.name(sha256), fh), CHUNK)
        except BaseException:
            fh.close()
            raise

    def read(self, sha256: str) -> bytes:
        with self.open(sha256) as fh:
            return fh.read()

    def iter_chunks(self, sha256: str) -> Iterator[bytes]:
        with self.open(sha256) as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def hash_of_stored(self, sha256: str) -> ObjectRef:
        """Re-read a stored object and hash what is actually there."""
        digest = hashlib.sha256()
        size = 0
        for chunk in self.iter_chunks(sha256):
            digest.update(chunk)
            size += len(chunk)
        return ObjectRef(digest.hexdigest(), size)

    def body_problem(self, sha256: str) -> str | None:
        """Checks a sealed object's stored bytes against the digest in its header, without the
        key and without decrypting (None: sound, or a plain object)."""
        found = self._locate(sha256)
        if found is None:
            return "object is missing"
        if not found[1]:
            return None
        with self.storage.open(found[0], "rb") as fh:
            try:
                header = sealing.read_header(fh.read(sealing.HEADER), label="object")
            except sealing.SealedObjectError as exc:
                return str(exc)
            digest = hashlib.sha256()
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        if digest.digest() != header.body_sha256:
            return "sealed bytes do not match the digest in their header (damaged)"
        return None

    def delete(self, sha256: str) -> None:
        """Delete the object in every form it is stored (sealed and plain)."""
        for name in self.names(sha256):
            self.delete_name(name)

    def delete_name(self, name: str) -> None:
        path = layout.object_path(self.cloud_id, name)
        if self.storage.exists(path):
            self.storage.delete(path)

    def list_all(self) -> Iterator[str]:
        """Every object's storage name for the site (for plain objects, their SHA-256; for
        sealed ones, ``name(sha256)``)."""
        root = layout.objects_root(self.cloud_id)
        try:
            prefixes, _ = self.storage.listdir(root)
        except FileNotFoundError:
            return
        for prefix in sorted(prefixes):
            _, files = self.storage.listdir(f"{root}/{prefix}")
            for name in sorted(files):
                if layout.is_sha256(name):
                    yield name


def site_key_possible(cloud_id: str) -> bool:
    from tenants.models import JiraSite

    return JiraSite.objects.filter(cloud_id=cloud_id).exists()
