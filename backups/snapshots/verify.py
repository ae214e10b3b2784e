"""Verification of stored snapshots.

Quick: the manifest reads and every object it names (its shards, and the attachments its refs
shards name) is present with its recorded size.
Deep: also re-read every object: a sealed one (format 3) is first checked against the digest of
its sealed bytes in its header (integrity without the key or the plaintext), then opened
(authenticated with the tenant's key) and re-hashed; every shard is decompressed and its
records counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.storage import Storage

from backups.snapshots import layout, shards
from backups.snapshots.manifest import ATTACHMENT_REFS, ManifestError, ShardEntry, read_manifest
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from backups.snapshots.sealing import SealedObjectError


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
    checked: dict[str, bool] = {}  # SHA-256 -> sound
    shard_of = {s.sha256: s for s in manifest.shards}

    def check(sha: str, size: int) -> bool:
        if sha not in checked:
            checked[sha] = _check_object(store, sid, sha, size, shard_of.get(sha), deep, problems)
        return checked[sha]

    for sha, size in sorted(manifest.named_objects().items()):
        check(sha, size)
    reader = SnapshotReader(manifest, store.storage)
    for refs in manifest.shards_of(ATTACHMENT_REFS):
        if not checked.get(refs.sha256):
            continue  # reported above; the attachments it names cannot be listed
        try:
            for record in reader.shard_records(refs.sha256):
                check(str(record["sha256"]), int(record["size"]))
        except (shards.ShardError, KeyError, TypeError, ValueError) as exc:
            problems.append(
                Problem(sid, store.path(refs.sha256), f"refs shard {refs.name}: bad record ({exc})")
            )
    return problems


def _check_object(
    store: ObjectStore,
    sid: str,
    sha: str,
    size: int,
    shard: ShardEntry | None,
    deep: bool,
    problems: list[Problem],
) -> bool:
    path = store.path(sha)
    actual = store.size(sha)
    if actual is None:
        problems.append(Problem(sid, path, "object is missing"))
        return False
    if actual != size:
        problems.append(Problem(sid, path, f"size is {actual} bytes, manifest says {size}"))
        return False
    if not deep:
        return True
    # Sealed objects: first the stored bytes against their header's digest (no key needed),
    # then opened with the tenant's key and hashed.
    damaged = store.body_problem(sha)
    if damaged is not None:
        problems.append(Problem(sid, path, damaged))
        return False
    try:
        hashed = store.hash_of_stored(sha).sha256
    except SealedObjectError as exc:
        problems.append(Problem(sid, path, f"unreadable ({exc})"))
        return False
    if hashed != sha:
        problems.append(Problem(sid, path, f"content hashes to {hashed}, not {sha}"))
        return False
    if shard is not None:
        try:
            with store.open(sha) as fh:
                n = sum(1 for _ in shards.iter_lines(fh))
        except shards.ShardError as exc:
            problems.append(Problem(sid, path, f"shard {shard.name} is unreadable ({exc})"))
            return False
        if n != shard.count:
            problems.append(
                Problem(sid, path, f"shard {shard.name} holds {n} records, not {shard.count}")
            )
            return False
    return True
