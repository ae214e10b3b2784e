"""Data-subject requests (issue 22): given a Jira account id, the snapshots of a tenant that hold
that person's data (the user record, reporter/assignee/creator, comment and worklog authors,
history entries, mentions), an export of it, or its redaction.

Redaction rewrites every shard that names the account or carries its display name or e-mail:
in any object whose ``accountId`` is the account, ``displayName`` becomes ``REDACTED`` and the
e-mail and avatars go; a mention of it reads ``@REDACTED``; the display name and e-mail are
replaced wherever else they appear in text. The new shards are new objects (sealed like every
other), the manifests are re-pointed at them (replaced safely, the ``Snapshot`` rows follow),
the reference counts move from the old objects to the new ones and the old objects, named by no
manifest any more, are deleted. Audited (``backup.subject_redacted``, ``backup.subject_exported``)
with the account id and counts only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import transaction
from django.utils import timezone

from backups.models import ACTIVE_STATUSES, BackupJob, Snapshot
from backups.retention import PruneReport, _collect, _count, _count_new
from backups.snapshots.manifest import ATTACHMENT_REFS, ShardEntry, read_manifest
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from backups.snapshots.writer import commit_snapshot, write_shard
from tenants.audit import record_event
from tenants.exceptions import DomainError
from tenants.models import Tenant

REDACTED = "REDACTED"


@dataclass
class SubjectReport:
    account_id: str
    snapshots: dict[str, int] = field(default_factory=dict)  # snapshot id -> records naming it
    shards_rewritten: int = 0
    objects_deleted: int = 0


def _snapshots(tenant: Tenant):
    return (
        Snapshot.objects.filter(site__tenant=tenant, status=Snapshot.Status.COMPLETE)
        .select_related("site")
        .order_by("completed_at")
    )


def _names(value: Any, account_id: str, found: set[str]) -> None:
    if isinstance(value, dict):
        if value.get("accountId") == account_id:
            for key in ("displayName", "emailAddress"):
                if isinstance(value.get(key), str) and value[key].strip():
                    found.add(value[key])
        for item in value.values():
            _names(item, account_id, found)
    elif isinstance(value, list):
        for item in value:
            _names(item, account_id, found)


def _redact(value: Any, account_id: str, names: list[str]) -> Any:
    if isinstance(value, dict):
        out = {k: _redact(v, account_id, names) for k, v in value.items()}
        if out.get("accountId") == account_id:
            if "displayName" in out:
                out["displayName"] = REDACTED
            out.pop("emailAddress", None)
            out.pop("avatarUrls", None)
        attrs = out.get("attrs")
        if (
            out.get("type") == "mention"
            and isinstance(attrs, dict)
            and attrs.get("id") == account_id
        ):
            out["attrs"] = {**attrs, "text": f"@{REDACTED}"}
        return out
    if isinstance(value, list):
        return [_redact(v, account_id, names) for v in value]
    if isinstance(value, str):
        for name in names:
            if name in value:
                value = value.replace(name, REDACTED)
        return value
    return value


def _touches(record: Any, needles: list[bytes]) -> bool:
    raw = orjson.dumps(record)
    return any(n in raw for n in needles)


def subject_find(*, tenant: Tenant, account_id: str) -> tuple[SubjectReport, list[str]]:
    """The snapshots holding the account's data (records naming it, per snapshot) and the
    display names and e-mails it had in them."""
    if not account_id.strip():
        raise DomainError("an account id is required")
    report = SubjectReport(account_id)
    names: set[str] = set()
    needle = [account_id.encode()]
    for snap in _snapshots(tenant):
        reader = SnapshotReader.open(snap.site.cloud_id, str(snap.id))
        n = 0
        for shard in reader.manifest.shards:
            if shard.kind == ATTACHMENT_REFS:
                continue
            for record in reader.shard_records(shard.sha256):
                if _touches(record, needle):
                    n += 1
                    _names(record, account_id, names)
        if n:
            report.snapshots[str(snap.id)] = n
    return report, sorted(names, key=len, reverse=True)


def subject_export(*, tenant: Tenant, account_id: str, acting_user=None) -> dict[str, Any]:
    """Every record naming the account, per snapshot and kind (the person's data)."""
    report, names = subject_find(tenant=tenant, account_id=account_id)
    out: dict[str, Any] = {"account_id": account_id, "names": names, "snapshots": {}}
    needle = [account_id.encode()]
    for sid in report.snapshots:
        snap = Snapshot.objects.select_related("site").get(pk=sid)
        reader = SnapshotReader.open(snap.site.cloud_id, sid)
        kinds: dict[str, list] = {}
        for shard in reader.manifest.shards:
            if shard.kind == ATTACHMENT_REFS:
                continue
            for record in reader.shard_records(shard.sha256):
                if _touches(record, needle):
                    kinds.setdefault(shard.kind, []).append(record)
        out["snapshots"][sid] = kinds
    _audit(tenant, "backup.subject_exported", acting_user, account_id, len(report.snapshots))
    return out


def _audit(tenant: Tenant, action: str, acting_user, account_id: str, snapshots: int, **extra):
    with transaction.atomic():
        summary = {"account_id": account_id, "snapshots": snapshots, **extra}
        record_event(actor=acting_user, action=action, target=None, tenant=tenant, summary=summary)


def subject_redact(*, tenant: Tenant, account_id: str, acting_user=None) -> SubjectReport:
    report, names = subject_find(tenant=tenant, account_id=account_id)
    if BackupJob.objects.filter(site__tenant=tenant, status__in=ACTIVE_STATUSES).exists():
        raise DomainError("a backup job of the tenant is running: redact when it has finished")
    needles = [account_id.encode()] + [orjson.dumps(n)[1:-1] for n in names]
    now = timezone.now()
    for site in tenant.sites.all():  # every snapshot counted: the old objects' counts fall to 0
        _count_new(site, ObjectStore(site.cloud_id), PruneReport(), now)
    rewritten: dict[str, ShardEntry] = {}  # old shard sha -> new entry (shared shards once)
    sites = {}
    for snap in _snapshots(tenant):
        site = snap.site
        sites[site.pk] = site
        store = ObjectStore(site.cloud_id)
        manifest = read_manifest(store.storage, site.cloud_id, str(snap.id))
        reader = SnapshotReader(manifest, store.storage)
        entries, old, new = [], {}, {}
        for shard in manifest.shards:
            if shard.kind == ATTACHMENT_REFS:
                entries.append(shard)
                continue
            if shard.sha256 not in rewritten:
                records = list(reader.shard_records(shard.sha256))
                if not any(_touches(r, needles) for r in records):
                    rewritten[shard.sha256] = shard
                else:
                    redacted = [_redact(r, account_id, names) for r in records]
                    rewritten[shard.sha256] = write_shard(
                        store, shard.kind, shard.name, redacted, seq=shard.seq
                    )
                    report.shards_rewritten += 1
            entry = rewritten[shard.sha256]
            entries.append(entry)
            if entry.sha256 != shard.sha256:
                old[shard.sha256], new[entry.sha256] = shard.size, entry.size
        if not old:
            continue
        _, _path, sha, _size = commit_snapshot(
            storage=store.storage,
            snapshot_id=str(snap.id),
            site=dict(manifest.site),
            kind=manifest.kind,
            started_at=manifest.started_at,
            finished_at=manifest.finished_at,
            shard_entries=entries,
            attachments=manifest.attachments,
            changes_since=manifest.changes_since,
            base_snapshot_id=manifest.base_snapshot_id,
            record_counts=manifest.counts,
        )
        with transaction.atomic():
            locked = Snapshot.objects.select_for_update().get(pk=snap.pk)
            Snapshot.objects.filter(pk=snap.pk).update(
                manifest_sha256=sha, format_version=3 if store.seals else locked.format_version
            )
            if locked.refs_counted:
                _count(site, new, +1, now)
                _count(site, old, -1, now)
    for site in sites.values():
        pruned = PruneReport()
        _collect(site, ObjectStore(site.cloud_id), pruned)
        report.objects_deleted += len(pruned.deleted_objects)
    _audit(
        tenant,
        "backup.subject_redacted",
        acting_user,
        account_id,
        len(report.snapshots),
        shards_rewritten=report.shards_rewritten,
        objects_deleted=report.objects_deleted,
    )
    return report
