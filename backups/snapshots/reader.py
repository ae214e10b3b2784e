"""Reading a committed snapshot: its records by kind, and attachment bytes by SHA-256."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from django.core.files.storage import Storage

from backups.snapshots import shards
from backups.snapshots.manifest import ATTACHMENT_REFS, Manifest, read_manifest
from backups.snapshots.objects import ObjectStore

DELETED = "_deleted"


class SnapshotReader:
    def __init__(self, manifest: Manifest, storage: Storage | None = None) -> None:
        self.manifest = manifest
        self.objects = ObjectStore(manifest.cloud_id, storage)

    @classmethod
    def open(cls, cloud_id: str, snapshot_id: str, storage: Storage | None = None):
        store = ObjectStore(cloud_id, storage)
        return cls(read_manifest(store.storage, cloud_id, str(snapshot_id)), store.storage)

    def records(self, kind: str) -> Iterator[dict[str, Any]]:
        """The records of one kind as the site stood: for layered kinds (issues), the newest
        layer's version of each id, without tombstones."""
        entries = self.manifest.shards_of(kind)
        if all(e.seq == 0 for e in entries):
            for entry in entries:
                for record in self.shard_records(entry.sha256):
                    if not record.get(DELETED):
                        yield record
            return
        seen: set[str] = set()
        for entry in sorted(entries, key=lambda e: (-e.seq, e.name)):
            for record in self.shard_records(entry.sha256):
                rid = str(record["id"])
                if rid in seen:
                    continue
                seen.add(rid)
                if not record.get(DELETED):
                    yield record

    def shard_records(self, sha256: str) -> Iterator[dict[str, Any]]:
        with self.objects.open(sha256) as fh:
            yield from shards.iter_lines(fh)

    def issue_index(self) -> dict[str, list[int]]:
        """Project id -> the ids of its issues in this snapshot."""
        return {str(r["projectId"]): list(r["ids"]) for r in self.records("issue_index")}

    def attachment_refs(self) -> Iterator[tuple[str, int]]:
        """(SHA-256, size) of every attachment the snapshot relies on, streamed: the refs shards
        (format 2) or the manifest's list (format 1). An attachment held by several issues or
        pages may come more than once. Raises ``shards.ShardError`` on a corrupt refs shard."""
        for entry in self.manifest.attachments:
            yield entry.sha256, entry.size
        for shard in self.manifest.shards_of(ATTACHMENT_REFS):
            for record in self.shard_records(shard.sha256):
                yield str(record["sha256"]), int(record["size"])

    def stored_objects(self) -> Iterator[tuple[str, int]]:
        """(SHA-256, size) of every object the snapshot relies on: its shards, then its
        attachments (streamed; may repeat an object)."""
        for shard in self.manifest.shards:
            yield shard.sha256, shard.size
        yield from self.attachment_refs()

    def open_attachment(self, sha256: str) -> IO[bytes]:
        return self.objects.open(sha256)

    def content(self) -> dict[str, dict[str, Any]]:
        """Every record keyed by kind and id: what two snapshots compare on (tests, restore)."""
        out: dict[str, dict[str, Any]] = {}
        for kind in sorted({s.kind for s in self.manifest.shards} - {ATTACHMENT_REFS}):
            out[kind] = {record_key(r): r for r in self.records(kind)}
        return out


def record_key(record: dict[str, Any]) -> str:
    scope = record.get("projectId") or record.get("fieldId") or ""
    for name in ("id", "accountId", "key"):
        if name in record:
            return f"{scope}:{record[name]}" if scope else str(record[name])
    return repr(sorted(record.items()))
