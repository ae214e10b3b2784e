"""Writing a snapshot: shards as content-addressed objects, then the manifest last."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.files.storage import Storage

from backups.snapshots import shards
from backups.snapshots.manifest import (
    AttachmentEntry,
    Manifest,
    ShardEntry,
    write_manifest,
)
from backups.snapshots.objects import ObjectStore


def write_shard(
    store: ObjectStore, kind: str, name: str, records: Iterable[Any], *, seq: int = 0
) -> ShardEntry:
    """Encode and store one shard (a no-op upload when an identical shard is already stored)."""
    data, count = shards.encode(records)
    ref = store.put_bytes(data)
    return ShardEntry(kind=kind, name=name, sha256=ref.sha256, size=ref.size, count=count, seq=seq)


def commit_snapshot(
    *,
    storage: Storage,
    snapshot_id: str,
    site: dict[str, str],
    kind: str,
    started_at: str,
    finished_at: str,
    shard_entries: Iterable[ShardEntry],
    attachments: Iterable[AttachmentEntry],
    changes_since: str | None = None,
    base_snapshot_id: str | None = None,
    record_counts: dict[str, int] | None = None,
) -> tuple[Manifest, str, str, int]:
    """Check every object is stored, then write the manifest. Returns (manifest, path, sha, size).

    Raises ``IncompleteSnapshot`` (and writes nothing) when an object is missing or truncated.
    """
    store = ObjectStore(site["cloud_id"], storage)
    ordered = sorted(
        {(s.kind, s.name): s for s in shard_entries}.values(), key=lambda s: (s.kind, s.name)
    )
    unique_attachments = {a.sha256: a for a in attachments}
    manifest = Manifest(
        snapshot_id=str(snapshot_id),
        site=site,
        kind=kind,
        started_at=started_at,
        finished_at=finished_at,
        changes_since=changes_since,
        base_snapshot_id=base_snapshot_id,
        shards=ordered,
        attachments=sorted(unique_attachments.values(), key=lambda a: a.sha256),
        record_counts=record_counts,
    )
    for sha, size in manifest.objects().items():
        actual = store.size(sha)
        if actual != size:
            raise IncompleteSnapshot(f"object {store.path(sha)} is missing or truncated")
    path, sha, size = write_manifest(storage, manifest)
    return manifest, path, sha, size


class IncompleteSnapshot(Exception):
    pass
