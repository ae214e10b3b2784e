"""Retention: which snapshots a site keeps, and garbage collection of objects no remaining
manifest references."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from backups.models import ACTIVE_STATUSES, BackupJob, BackupSchedule, Snapshot, StoredAttachment
from backups.snapshots import layout
from backups.snapshots.manifest import ManifestError, read_manifest
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from backups.snapshots.shards import ShardError
from tenants.audit import record_event
from tenants.models import JiraSite

logger = logging.getLogger(__name__)


@dataclass
class PruneReport:
    pruned_snapshots: list[str] = field(default_factory=list)
    deleted_objects: list[str] = field(default_factory=list)
    skipped_gc_reason: str = ""


def snapshots_to_keep(snapshots: Iterable[Snapshot], policy: BackupSchedule, now: datetime) -> set:
    """Ids kept: newest ``keep_last``, newest per day/ISO week/month for the configured
    number of periods, minus those older than ``max_age_days``; never fewer than the newest."""
    ordered = sorted(snapshots, key=lambda s: s.completed_at, reverse=True)
    keep = {s.id for s in ordered[: policy.keep_last]}
    buckets = (
        (policy.keep_daily, lambda d: d.date()),
        (policy.keep_weekly, lambda d: tuple(d.isocalendar())[:2]),
        (policy.keep_monthly, lambda d: (d.year, d.month)),
    )
    for count, bucket_of in buckets:
        seen: list = []
        for snap in ordered:
            bucket = bucket_of(snap.completed_at)
            if bucket in seen:
                continue
            if len(seen) >= count:
                break
            seen.append(bucket)
            keep.add(snap.id)
    if policy.max_age_days:
        limit = now - timedelta(days=policy.max_age_days)
        keep = {s.id for s in ordered if s.id in keep and s.completed_at >= limit}
    # Incrementals need their whole base chain: keep the bases of every kept snapshot.
    by_id = {str(s.id): s for s in ordered}
    for snap in ordered:
        if snap.id in keep:
            base = _base_id(snap)
            while base and base in by_id:
                keep.add(by_id[base].id)
                base = _base_id(by_id[base])
    if ordered:
        keep.add(ordered[0].id)
    return keep


def _base_id(snapshot: Snapshot) -> str | None:
    job = snapshot.job
    return str(job.base_snapshot_id) if job and job.base_snapshot_id else None


def prune_site(
    *, site: JiraSite, acting_user=None, now: datetime | None = None, dry_run: bool = False
) -> PruneReport:
    now = now or timezone.now()
    report = PruneReport()
    policy = getattr(site, "backup_schedule", None) or BackupSchedule(site=site)
    snaps = list(
        Snapshot.objects.filter(site=site, status=Snapshot.Status.COMPLETE).select_related("job")
    )
    keep = snapshots_to_keep(snaps, policy, now)
    # The base of a running incremental job stays until that job committed.
    keep |= set(
        BackupJob.objects.filter(site=site, status__in=ACTIVE_STATUSES)
        .exclude(base_snapshot=None)
        .values_list("base_snapshot_id", flat=True)
    )
    store = ObjectStore(site.cloud_id)
    for snap in snaps:
        if snap.id in keep:
            continue
        report.pruned_snapshots.append(str(snap.id))
        if dry_run:
            continue
        with transaction.atomic():
            Snapshot.objects.filter(pk=snap.pk).update(status=Snapshot.Status.PRUNED, pruned_at=now)
            record_event(
                actor=acting_user,
                action="backup.snapshot_pruned",
                target=snap,
                tenant=site.tenant,
                summary={"completed_at": snap.completed_at.isoformat()},
            )
            # The schedule's estimate no longer counts the pruned snapshot.
            from backups.services import schedule_estimates_refresh

            schedule_estimates_refresh(site_ids=[site.pk], now=now)
        path = layout.manifest_path(site.cloud_id, str(snap.id))
        if store.storage.exists(path):
            store.storage.delete(path)
    if BackupJob.objects.filter(site=site, status__in=ACTIVE_STATUSES).exists():
        # A running job writes objects no manifest names yet: collect garbage another time.
        report.skipped_gc_reason = "a backup job is active for the site"
        return report
    referenced: set[str] = set()
    for snap in Snapshot.objects.filter(site=site, status=Snapshot.Status.COMPLETE):
        try:
            manifest = read_manifest(store.storage, site.cloud_id, str(snap.id))
            referenced.update(
                sha for sha, _size in SnapshotReader(manifest, store.storage).stored_objects()
            )
        except (ManifestError, ShardError, OSError, KeyError, TypeError, ValueError) as exc:
            report.skipped_gc_reason = f"snapshot {snap.id} is unreadable ({exc}); nothing deleted"
            return report
    for sha in list(store.list_all()):
        if sha in referenced:
            continue
        report.deleted_objects.append(sha)
        if not dry_run:
            store.delete(sha)
    if not dry_run and report.deleted_objects:
        StoredAttachment.objects.filter(site=site, sha256__in=report.deleted_objects).delete()
    return report


def prune_all(*, now: datetime | None = None) -> dict[int, PruneReport]:
    reports = {}
    for site in JiraSite.objects.filter(snapshots__isnull=False).distinct():
        reports[site.pk] = prune_site(site=site, now=now)
    return reports
