"""Content-addressed blobs on a django-storages backend.

Every stored object (a shard or an attachment's bytes) lives at ``objects/<sha[:2]>/<sha256>``
of its site, so an attachment or an unchanged shard is stored once and shared by every snapshot
that references it. Writes are idempotent: an object already present with the right size is not
written again, and one with the wrong size (a writer killed mid-upload on a filesystem backend)
is replaced.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from backups.snapshots import layout

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ObjectRef:
    sha256: str
    size: int


def default_storage() -> Storage:
    return storages["default"]


class ObjectStore:
    """The blobs of one site."""

    def __init__(self, cloud_id: str, storage: Storage | None = None) -> None:
        self.cloud_id = cloud_id
        self.storage = storage if storage is not None else default_storage()

    def path(self, sha256: str) -> str:
        return layout.object_path(self.cloud_id, sha256)

    def exists(self, sha256: str) -> bool:
        return self.storage.exists(self.path(sha256))

    def size(self, sha256: str) -> int | None:
        path = self.path(sha256)
        if not self.storage.exists(path):
            return None
        return self.storage.size(path)

    def has(self, ref: ObjectRef) -> bool:
        return self.size(ref.sha256) == ref.size

    def put_bytes(self, data: bytes) -> ObjectRef:
        ref = ObjectRef(hashlib.sha256(data).hexdigest(), len(data))
        self._save(ref, ContentFile(data))
        return ref

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
            self._save(ref, File(spool))
        return ref

    def _save(self, ref: ObjectRef, content: File) -> None:
        path = self.path(ref.sha256)
        if self.storage.exists(path):
            if self.storage.size(path) == ref.size:
                return
            # A partial object left by a killed writer: replace it.
            self.storage.delete(path)
        saved = self.storage.save(path, content)
        if saved != path:
            # Another writer stored the same object meanwhile; ours is a duplicate.
            self.storage.delete(saved)

    def open(self, sha256: str) -> IO[bytes]:
        return self.storage.open(self.path(sha256), "rb")

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

    def delete(self, sha256: str) -> None:
        self.storage.delete(self.path(sha256))

    def list_all(self) -> Iterator[str]:
        """Every object's SHA-256 stored for the site."""
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
