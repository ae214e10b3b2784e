"""Sealing the snapshots written before encryption, in place (``manage.py seal_snapshots``).

Per site, for every complete snapshot (oldest first):

1. every object it names that is still plain is sealed with the tenant's snapshot key (written
   under its keyed name) and read back: opened, hashed and compared with the SHA-256 the
   manifest names — only a verified copy counts;
2. a format 1 or 2 manifest is rewritten as format 3 (sealed) naming the same objects, stored
   beside the old one first so that an interruption never leaves the snapshot without one; the
   ``Snapshot`` row follows and the change is audited (``backup.snapshot_sealed``);
3. once every snapshot of the site is sealed, the plain objects that have a sealed copy are
   deleted (a plain object no snapshot names is left to pruning, which deletes it).

Resumable: an object already sealed is only checked, a sealed manifest is left alone, so an
interrupted run picks up where it stopped; run twice, it finds nothing to do. Objects of a
snapshot whose plain copy is damaged are not sealed and the snapshot keeps its old manifest
(named in the report), so nothing is ever lost or silently changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from backups.models import Snapshot
from backups.snapshots import layout, sealing
from backups.snapshots.manifest import ManifestError, read_manifest, recover_replaced
from backups.snapshots.objects import ObjectStore, site_key
from backups.snapshots.reader import SnapshotReader
from backups.snapshots.shards import ShardError
from backups.snapshots.writer import IncompleteSnapshot, commit_snapshot
from tenants.audit import record_event
from tenants.models import JiraSite


@dataclass
class SealReport:
    site: str
    snapshots_sealed: list[str] = field(default_factory=list)
    snapshots_already: int = 0
    objects_sealed: int = 0
    plain_deleted: int = 0
    plain_left: int = 0
    problems: dict[str, str] = field(default_factory=dict)  # snapshot id -> what stopped it


def seal_site(*, site: JiraSite, acting_user=None, dry_run: bool = False) -> SealReport:
    report = SealReport(site=site.url or site.cloud_id)
    if not sealing.enabled():
        report.problems["*"] = "snapshot encryption is off (SNAPSHOT_ENCRYPTION)"
        return report
    # A dry run creates no key: without one yet, every object counts as plain.
    store = (
        ObjectStore(site.cloud_id, key=site_key(site.cloud_id, create=False))
        if dry_run
        else ObjectStore(site.cloud_id)
    )
    snapshots = Snapshot.objects.filter(site=site, status=Snapshot.Status.COMPLETE).order_by(
        "completed_at"
    )
    for snap in snapshots:
        sid = str(snap.id)
        recover_replaced(store.storage, site.cloud_id, sid)
        try:
            manifest = read_manifest(store.storage, site.cloud_id, sid)
            plain = _plain_objects(store, manifest)
        except (ManifestError, ShardError, OSError, KeyError, TypeError, ValueError) as exc:
            report.problems[sid] = f"unreadable ({exc})"
            continue
        if manifest.format_version >= layout.SEALED_VERSION and not plain:
            report.snapshots_already += 1
            continue
        if dry_run:
            report.snapshots_sealed.append(sid)
            report.objects_sealed += len(plain)
            continue
        problem = _seal_objects(store, plain, report)
        if problem:
            report.problems[sid] = problem
            continue
        if manifest.format_version < layout.SEALED_VERSION:
            try:
                _, _path, sha, _size = commit_snapshot(
                    storage=store.storage,
                    snapshot_id=sid,
                    site=dict(manifest.site),
                    kind=manifest.kind,
                    started_at=manifest.started_at,
                    finished_at=manifest.finished_at,
                    shard_entries=manifest.shards,
                    attachments=manifest.attachments,
                    changes_since=manifest.changes_since,
                    base_snapshot_id=manifest.base_snapshot_id,
                    record_counts=manifest.counts,
                )
            except IncompleteSnapshot as exc:
                report.problems[sid] = str(exc)
                continue
            with transaction.atomic():
                Snapshot.objects.filter(pk=snap.pk).update(
                    format_version=layout.SEALED_VERSION, manifest_sha256=sha
                )
                record_event(
                    actor=acting_user,
                    action="backup.snapshot_sealed",
                    target=snap,
                    tenant=site.tenant,
                    summary={"from_format": manifest.format_version, "objects": len(plain)},
                )
        report.snapshots_sealed.append(sid)
    if not dry_run and not report.problems:
        _drop_plain_copies(store, report)
    return report


def _plain_objects(store: ObjectStore, manifest) -> dict[str, int]:
    """The objects the snapshot names that are stored plain only: SHA-256 -> size."""
    plain: dict[str, int] = {}
    for sha, size in SnapshotReader(manifest, store.storage).stored_objects():
        if sha not in plain and not store.is_sealed(sha):
            plain[sha] = size
    return plain


def _seal_objects(store: ObjectStore, plain: dict[str, int], report: SealReport) -> str:
    """Seal each plain object and verify the sealed copy; '' or what went wrong."""
    for sha, size in sorted(plain.items()):
        if store.size(sha) is None:
            return f"object {store.path(sha)} is missing"
        ref = store.put_chunks(store.iter_chunks(sha))
        if ref.sha256 != sha or ref.size != size:
            if ref.sha256 != sha:  # a damaged plain copy: its sealed copy (of other bytes) goes
                store.delete_name(store.key.name(ref.sha256))
            return f"object {store.path(sha)} is damaged: it hashes to {ref.sha256}, not {sha}"
        check = store.hash_of_stored(sha)
        if not store.is_sealed(sha) or check.sha256 != sha or check.size != size:
            return f"object {sha}: its sealed copy does not read back"
        report.objects_sealed += 1
    return ""


def _drop_plain_copies(store: ObjectStore, report: SealReport) -> None:
    key = store.key
    for name in list(store.list_all()):
        if store.storage.exists(layout.object_path(store.cloud_id, key.name(name))):
            store.delete_name(name)  # a plain object whose sealed copy is stored
            report.plain_deleted += 1
        elif not _is_sealed_name(store, name):
            report.plain_left += 1


def _is_sealed_name(store: ObjectStore, name: str) -> bool:
    with store.storage.open(layout.object_path(store.cloud_id, name), "rb") as fh:
        return fh.read(len(sealing.MAGIC)) == sealing.MAGIC
