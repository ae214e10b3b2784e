"""Writing a snapshot: shards as content-addressed objects, then the manifest last."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.files.storage import Storage

from backups.snapshots import layout, shards
from backups.snapshots.manifest import (
    ATTACHMENT_REFS,
    AttachmentEntry,
    Manifest,
    ShardEntry,
    write_manifest,
)
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader


def write_shard(
    store: ObjectStore, kind: str, name: str, records: Iterable[Any], *, seq: int = 0
) -> ShardEntry:
    """Encode and store one shard (a no-op upload when an identical shard is already stored)."""
    data, count = shards.encode(records)
    ref = store.put_bytes(data)
    return ShardEntry(kind=kind, name=name, sha256=ref.sha256, size=ref.size, count=count, seq=seq)


def write_attachment_refs(
    store: ObjectStore, name: str, refs: Iterable[tuple[str, int]], *, seq: int = 0
) -> ShardEntry | None:
    """The refs shard of a page of issues: its attachments, sorted and unique (None if none)."""
    unique = dict(refs)
    if not unique:
        return None
    records = ({"sha256": sha, "size": unique[sha]} for sha in sorted(unique))
    return write_shard(store, ATTACHMENT_REFS, name, records, seq=seq)


def commit_snapshot(
    *,
    storage: Storage,
    snapshot_id: str,
    site: dict[str, str],
    kind: str,
    started_at: str,
    finished_at: str,
    shard_entries: Iterable[ShardEntry],
    attachments: Iterable[AttachmentEntry] = (),
    changes_since: str | None = None,
    base_snapshot_id: str | None = None,
    record_counts: dict[str, int] | None = None,
    compacted_from: str | None = None,
) -> tuple[Manifest, str, str, int]:
    """Check every object is stored, then write the manifest. Returns (manifest, path, sha, size).

    The attachments are named by the ``attachment_refs`` shards among ``shard_entries``;
    ``attachments`` (refs not yet in a shard, e.g. a format-1 base's list) are written into one
    more. Every object is checked while the refs are streamed, so memory does not grow with the
    number of attachments beyond one digest per distinct object (for the totals).

    Raises ``IncompleteSnapshot`` (and writes nothing) when an object is missing or truncated.
    """
    store = ObjectStore(site["cloud_id"], storage)
    entries = {(s.kind, s.name): s for s in shard_entries}
    extra = write_attachment_refs(
        store, f"{ATTACHMENT_REFS}/extra-{snapshot_id}", ((a.sha256, a.size) for a in attachments)
    )
    if extra is not None:
        entries[(extra.kind, extra.name)] = extra
    ordered = sorted(entries.values(), key=lambda s: (s.kind, s.name))
    manifest = Manifest(
        snapshot_id=str(snapshot_id),
        site=site,
        kind=kind,
        started_at=started_at,
        finished_at=finished_at,
        changes_since=changes_since,
        base_snapshot_id=base_snapshot_id,
        shards=ordered,
        record_counts=record_counts,
        compacted_from=compacted_from,
    )
    sealed = store.seals and store.key is not None
    if sealed:
        manifest.format_version = layout.SEALED_VERSION
    seen: set[bytes] = set()
    total = 0
    try:
        for sha, size in SnapshotReader(manifest, storage).stored_objects():
            digest = bytes.fromhex(sha)
            if digest in seen:
                continue
            if store.size(sha) != size:
                raise IncompleteSnapshot(f"object {store.path(sha)} is missing or truncated")
            seen.add(digest)
            total += size
    except (shards.ShardError, OSError, KeyError, TypeError, ValueError) as exc:
        raise IncompleteSnapshot(f"an attachment refs shard is unreadable ({exc})") from exc
    manifest.totals = {"objects": len(seen), "bytes": total}
    del seen
    path, sha, size = write_manifest(storage, manifest, store.key if sealed else None)
    return manifest, path, sha, size


class IncompleteSnapshot(Exception):
    pass
