"""Verification of stored snapshots.

Quick: the manifest reads and every object it names is present with its recorded size.
Deep: also re-read and re-hash every object, and decompress every shard and count its records.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.storage import Storage

from backups.snapshots import layout, shards
from backups.snapshots.manifest import ManifestError, read_manifest
from backups.snapshots.objects import ObjectStore


@dataclass(frozen=True)
class Problem:
    snapshot_id: str
    where: str
    what: str

    def __str__(self) -> str:
        return f"snapshot {self.snapshot_id}: {self.where}: {self.what}"


def verify_snapshot(
    cloud_id: str, snapshot_id: str, *, deep: bool = False, storage: Storage | None = None
) -> list[Problem]:
    store = ObjectStore(cloud_id, storage)
    sid = str(snapshot_id)
    try:
        manifest = read_manifest(store.storage, cloud_id, sid)
    except ManifestError as exc:
        return [Problem(sid, layout.manifest_path(cloud_id, sid), str(exc))]
    problems: list[Problem] = []
    hashed: dict[str, str] = {}
    counts = {s.sha256: s for s in manifest.shards}
    for sha, size in sorted(manifest.objects().items()):
        path = store.path(sha)
        actual = store.size(sha)
        if actual is None:
            problems.append(Problem(sid, path, "object is missing"))
            continue
        if actual != size:
            problems.append(Problem(sid, path, f"size is {actual} bytes, manifest says {size}"))
            continue
        if not deep:
            continue
        if sha not in hashed:
            hashed[sha] = store.hash_of_stored(sha).sha256
        if hashed[sha] != sha:
            problems.append(Problem(sid, path, f"content hashes to {hashed[sha]}, not {sha}"))
            continue
        shard = counts.get(sha)
        if shard is not None:
            try:
                with store.open(sha) as fh:
                    n = sum(1 for _ in shards.iter_lines(fh))
            except shards.ShardError as exc:
                problems.append(Problem(sid, path, f"shard {shard.name} is unreadable ({exc})"))
                continue
            if n != shard.count:
                problems.append(
                    Problem(sid, path, f"shard {shard.name} holds {n} records, not {shard.count}")
                )
    return problems
