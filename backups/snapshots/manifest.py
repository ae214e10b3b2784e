"""The manifest: what a snapshot holds, written last as its commit point.

A snapshot without a readable manifest is incomplete and is never offered for restore. The
manifest names every shard it relies on (SHA-256 and size); the attachments are named by the
snapshot's ``attachment_refs`` shards (format 2), so the manifest stays small however many
attachments a site holds. Verification and pruning read the manifest and those shards
(``SnapshotReader.stored_objects``); format 1 manifests, which list the attachments inline, are
still read.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.core.files.base import ContentFile
from django.core.files.storage import Storage

from backups.config.kinds import CONFIG_KINDS
from backups.snapshots import layout, sealing
from tenants.exceptions import DecryptionError

FORMAT_NAME = "jira-cloud-snapshot"

# Shards naming the attachment objects of a snapshot: records ``{"sha256", "size"}``, sorted by
# SHA-256 and unique within a shard (one shard per page of issues). Not a record kind: nothing
# restores them, and they are not counted in ``counts``.
ATTACHMENT_REFS = "attachment_refs"

# Record kinds a snapshot holds, in the order a restore wants them.
KINDS = (
    "statuses",
    "issue_types",
    "priorities",
    "link_types",
    "fields",
    "field_contexts",
    "field_options",
    "users",
    "projects",
    "components",
    "versions",
    "project_roles",
    "project_statuses",
    "resolutions",
    "workflows",
    "workflow_schemes",
    "boards",
    "sprints",
    *CONFIG_KINDS,
    "snapshot_notes",
    "issues",
    "issue_index",
)


class ManifestError(Exception):
    """A manifest that is missing, unreadable or not one we understand."""


@dataclass(frozen=True)
class ShardEntry:
    kind: str
    name: str
    sha256: str
    size: int
    count: int
    # Layer: records of a higher seq replace records with the same id in lower ones (issues of
    # an incremental snapshot are layered over the shards of the snapshot it builds on).
    seq: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "count": self.count,
            "seq": self.seq,
        }


@dataclass(frozen=True)
class AttachmentEntry:
    sha256: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size}


@dataclass
class Manifest:
    snapshot_id: str
    site: dict[str, str]
    kind: str
    started_at: str
    finished_at: str
    changes_since: str | None = None
    base_snapshot_id: str | None = None
    shards: list[ShardEntry] = field(default_factory=list)
    # Format 1 only: attachments listed inline (format 2 names them in ATTACHMENT_REFS shards).
    attachments: list[AttachmentEntry] = field(default_factory=list)
    # Records per kind as the site stood (layered issues counted once); None: from the shards.
    record_counts: dict[str, int] | None = None
    # Distinct objects (shards and attachments) and their bytes, counted when committed.
    totals: dict[str, int] = field(default_factory=dict)
    format_version: int = layout.FORMAT_VERSION
    # A synthetic full written by compaction: the incremental snapshot it was compacted from.
    compacted_from: str | None = None

    @property
    def cloud_id(self) -> str:
        return self.site["cloud_id"]

    @property
    def counts(self) -> dict[str, int]:
        if self.record_counts is not None:
            return {kind: int(self.record_counts.get(kind, 0)) for kind in KINDS}
        counts: Counter[str] = Counter()
        for shard in self.shards:
            counts[shard.kind] += shard.count
        return {kind: counts.get(kind, 0) for kind in KINDS}

    def named_objects(self) -> dict[str, int]:
        """The objects the manifest itself names (shards; format 1: attachments too): SHA-256 ->
        size. ``SnapshotReader.stored_objects`` adds the attachments of the refs shards."""
        objects = {s.sha256: s.size for s in self.shards}
        objects.update({a.sha256: a.size for a in self.attachments})
        return objects

    @property
    def total_objects(self) -> int:
        return int(self.totals.get("objects", 0))

    @property
    def total_bytes(self) -> int:
        return int(self.totals.get("bytes", 0))

    def shards_of(self, kind: str) -> list[ShardEntry]:
        return [s for s in self.shards if s.kind == kind]

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "format_version": self.format_version,
            "snapshot_id": self.snapshot_id,
            "kind": self.kind,
            "base_snapshot_id": self.base_snapshot_id,
            "site": dict(self.site),
            "window": {
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "changes_since": self.changes_since,
            },
            "counts": self.counts,
            "totals": {"objects": self.total_objects, "bytes": self.total_bytes},
            "shards": [s.as_dict() for s in self.shards],
            **(
                {"attachments": [a.as_dict() for a in self.attachments]}
                if self.format_version == 1
                else {}
            ),
            **({"compacted_from": self.compacted_from} if self.compacted_from else {}),
        }

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.as_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        raw = _parse(data)
        version = raw.get("format_version")
        if version not in layout.READABLE_VERSIONS:
            raise ManifestError(f"unsupported format version {version!r}")
        if version >= layout.SEALED_VERSION:
            raw = _parse(_unseal(raw))
            if raw.get("format_version") != version:
                raise ManifestError("sealed manifest names another format version")
        try:
            manifest = cls(
                snapshot_id=str(raw["snapshot_id"]),
                site=dict(raw["site"]),
                kind=raw["kind"],
                started_at=raw["window"]["started_at"],
                finished_at=raw["window"]["finished_at"],
                changes_since=raw["window"].get("changes_since"),
                base_snapshot_id=raw.get("base_snapshot_id"),
                shards=[ShardEntry(**s) for s in raw["shards"]],
                attachments=[
                    AttachmentEntry(**a) for a in (raw["attachments"] if version == 1 else [])
                ],
                record_counts=dict(raw["counts"]),
                totals={k: int(raw["totals"][k]) for k in ("objects", "bytes")},
                format_version=version,
                compacted_from=raw.get("compacted_from"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"manifest is missing or has a malformed part ({exc})") from exc
        for sha in manifest.named_objects():
            if not layout.is_sha256(sha):
                raise ManifestError(f"manifest names an invalid object hash {sha!r}")
        return manifest


def _parse(data: bytes) -> dict[str, Any]:
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ManifestError(f"manifest is not valid JSON ({exc})") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
        raise ManifestError("not a snapshot manifest")
    return raw


def _aad(cloud_id: str, snapshot_id: str, key_id: str) -> bytes:
    return f"manifest:{cloud_id}/{snapshot_id}:{key_id}".encode()


def seal(manifest: Manifest, key: sealing.SnapshotKey) -> bytes:
    """The stored form of a format-3 manifest: a small clear envelope (format, version, ids,
    which key) around the manifest sealed with the tenant's snapshot key."""
    body = key.seal_document(
        manifest.to_bytes(), aad=_aad(manifest.cloud_id, manifest.snapshot_id, key.key_id)
    )
    envelope = {
        "format": FORMAT_NAME,
        "format_version": manifest.format_version,
        "snapshot_id": manifest.snapshot_id,
        "site": {"cloud_id": manifest.cloud_id},
        "sealed": {
            "alg": "AES-256-GCM",
            "key_scope": key.scope,
            "key_id": key.key_id,
            "data": base64.b64encode(body).decode("ascii"),
        },
    }
    return orjson.dumps(envelope, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def _unseal(raw: dict[str, Any]) -> bytes:
    try:
        cloud_id = str(raw["site"]["cloud_id"])
        snapshot_id = str(raw["snapshot_id"])
        sealed = raw["sealed"]
        scope, key_id = str(sealed["key_scope"]), str(sealed["key_id"])
        body = base64.b64decode(sealed["data"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestError(f"sealed manifest has a malformed envelope ({exc})") from exc
    label = f"manifest of snapshot {snapshot_id}"
    try:
        key = sealing.key_by_id(scope, key_id)
        return key.open_document(body, aad=_aad(cloud_id, snapshot_id, key_id), label=label)
    except (DecryptionError, ValueError) as exc:
        raise ManifestError(f"{label} cannot be opened: {exc}") from exc


def write_manifest(
    storage: Storage, manifest: Manifest, key: sealing.SnapshotKey | None = None
) -> tuple[str, str, int]:
    """Store the manifest (replacing a partial one); returns (path, sha256, size). A format-3
    manifest is sealed with ``key``."""
    import hashlib

    path = layout.manifest_path(manifest.cloud_id, manifest.snapshot_id)
    if manifest.format_version >= layout.SEALED_VERSION:
        if key is None:
            raise ValueError("a sealed (format 3) manifest needs the tenant's snapshot key")
        data = seal(manifest, key)
    else:
        data = manifest.to_bytes()
    if storage.exists(path):
        # Replacing a manifest (sealing an older snapshot in place): the new one is stored
        # beside it first, so an interruption never leaves the snapshot without one
        # (``recover_replaced`` puts it in place).
        _save(storage, replacement_path(path), data)
        storage.delete(path)
        _save(storage, path, data)
        storage.delete(replacement_path(path))
    else:
        _save(storage, path, data)
    return path, hashlib.sha256(data).hexdigest(), len(data)


def replacement_path(path: str) -> str:
    return f"{path}.new"


def _save(storage: Storage, path: str, data: bytes) -> None:
    if storage.exists(path):
        storage.delete(path)
    saved = storage.save(path, ContentFile(data))
    if saved != path:  # pragma: no cover - only if a concurrent writer raced the delete
        storage.delete(saved)


def recover_replaced(storage: Storage, cloud_id: str, snapshot_id: str) -> bool:
    """Finish a manifest replacement an interruption left half done; True if it did."""
    path = layout.manifest_path(cloud_id, snapshot_id)
    spare = replacement_path(path)
    if not storage.exists(spare):
        return False
    if not storage.exists(path):
        with storage.open(spare, "rb") as fh:
            _save(storage, path, fh.read())
    storage.delete(spare)
    return True


def read_manifest(storage: Storage, cloud_id: str, snapshot_id: str) -> Manifest:
    path = layout.manifest_path(cloud_id, snapshot_id)
    if not storage.exists(path):
        raise ManifestError(f"manifest {path} is missing")
    with storage.open(path, "rb") as fh:
        manifest = Manifest.from_bytes(fh.read())
    if manifest.snapshot_id != str(snapshot_id) or manifest.cloud_id != cloud_id:
        raise ManifestError(f"manifest {path} belongs to another snapshot or site")
    return manifest
