"""Retention: which snapshots a site keeps, and garbage collection of the objects no remaining
snapshot names, by reference counting, so that a prune reads only what changed.

``StoredObjectRef`` counts, per site and object, the complete snapshots that name it. A prune
(once a day per site, ``prune_all`` from beat):

1. counts up the objects of the snapshots committed since the site's last prune (those not
   ``refs_counted`` yet: each counted once, in the transaction that marks it; their manifests
   and refs shards are the only snapshot contents it reads);
2. decides from the database rows which snapshots retention drops (``snapshots_to_keep``; the
   base chain of every kept incremental and the base of a running job stay), marks them pruned,
   counts down their objects (reading their manifests once more, before deleting them);
3. deletes the objects whose count reached zero — only while no backup or compaction job of the
   site is active, since a running job may write or reuse an object before its manifest names it
   (reliability row 9: deletion never removes an object a live snapshot or a running job
   references; the writer checks every object it names exists before it commits a manifest).

A site's first prune under this scheme builds its counts from all its manifests and collects
what none names (a listing of its objects), as the old full pass did; so does a prune after a
backup (or compaction) job of the site failed or was cancelled, whose objects no manifest will
ever name. An unreadable manifest stops the site's garbage collection (nothing is deleted) until
it is fixed.

A compacted snapshot (``backups.compaction``: a synthetic full of an incremental's moment)
takes its source's place: retention decides on it, and the source is pruned (unless a kept
incremental or a running job builds on it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, Max, OuterRef, Q
from django.utils import timezone

from backups.models import (
    ACTIVE_STATUSES,
    BackupJob,
    BackupSchedule,
    CompactionJob,
    PruneCursor,
    Snapshot,
    StoredAttachment,
    StoredObjectRef,
)
from backups.snapshots import layout
from backups.snapshots.manifest import ManifestError, read_manifest
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from backups.snapshots.shards import ShardError
from tenants.audit import record_event
from tenants.models import JiraSite, LegalHold
from tenants.selectors import hold_on

logger = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(days=1)
UNREADABLE = (ManifestError, ShardError, OSError, KeyError, TypeError, ValueError)


@dataclass
class PruneReport:
    pruned_snapshots: list[str] = field(default_factory=list)
    deleted_objects: list[str] = field(default_factory=list)
    skipped_gc_reason: str = ""
    held: bool = False  # a legal hold stopped the prune: nothing was pruned or deleted
    # What the prune read: manifests (with their refs shards), and whether it listed storage.
    manifests_read: int = 0
    listed_storage: bool = False


def snapshots_to_keep(snapshots: Iterable[Snapshot], policy: BackupSchedule, now: datetime) -> set:
    """Ids kept: newest ``keep_last``, newest per day/ISO week/month for the configured
    number of periods, minus those older than ``max_age_days``; never fewer than the newest.
    A snapshot that was compacted is not a candidate: its compacted copy is, in its place."""
    every = sorted(snapshots, key=lambda s: s.completed_at, reverse=True)
    compacted = {s.compacted_from_id for s in every if s.compacted_from_id}
    ordered = [s for s in every if s.id not in compacted]
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
    by_id = {str(s.id): s for s in every}
    for snap in every:
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


# ----------------------------------------------------------------------------- reference counts


def objects_of(store: ObjectStore, snapshot: Snapshot) -> dict[str, int]:
    """Every object the snapshot names (its shards, and the attachments of its refs shards)."""
    manifest = read_manifest(store.storage, store.cloud_id, str(snapshot.id))
    return dict(SnapshotReader(manifest, store.storage).stored_objects())


def _count(site: JiraSite, objects: dict[str, int], delta: int, now: datetime) -> None:
    shas = sorted(objects)
    for start in range(0, len(shas), 1000):
        chunk = shas[start : start + 1000]
        rows = StoredObjectRef.objects.filter(site=site, sha256__in=chunk)
        if delta > 0:
            known = set(rows.values_list("sha256", flat=True))
            rows.update(refs=F("refs") + delta, unreferenced_at=None)
            StoredObjectRef.objects.bulk_create(
                [
                    StoredObjectRef(site=site, sha256=sha, size=objects[sha], refs=delta)
                    for sha in chunk
                    if sha not in known
                ]
            )
        else:
            rows.update(refs=F("refs") + delta)
            rows.filter(refs__lte=0, unreferenced_at=None).update(unreferenced_at=now)


def _count_new(site: JiraSite, store: ObjectStore, report: PruneReport, now: datetime) -> bool:
    """Count the complete snapshots not counted yet (all, on the first pass), each in the
    transaction that marks it counted (a concurrent prune counts it once). False: one is
    unreadable (it stays uncounted; nothing is deleted)."""
    new = Snapshot.objects.filter(
        site=site, status=Snapshot.Status.COMPLETE, refs_counted=False
    ).order_by("completed_at", "pk")
    for snap in new:
        try:
            objects = objects_of(store, snap)
        except UNREADABLE as exc:
            report.skipped_gc_reason = f"snapshot {snap.id} is unreadable ({exc}); nothing deleted"
            return False
        report.manifests_read += 1
        with transaction.atomic():
            if Snapshot.objects.filter(pk=snap.pk, refs_counted=False).update(refs_counted=True):
                _count(site, objects, +1, now)
    return True


ENDED_UNCOMMITTED = ("failed", "cancelled")
# Jobs that write objects before a manifest names them: backups and compactions.
WRITERS = (BackupJob, CompactionJob)


def _failed_jobs_since(site: JiraSite, since: datetime | None) -> bool:
    for model in WRITERS:
        ended = model.objects.filter(site=site, status__in=ENDED_UNCOMMITTED)
        if (ended.filter(finished_at__gte=since) if since else ended).exists():
            return True
    return False


def _writing(site: JiraSite) -> str:
    """ "a backup job" / "a compaction job" active for the site ("" when none is)."""
    for model, name in ((BackupJob, "a backup job"), (CompactionJob, "a compaction job")):
        if model.objects.filter(site=site, status__in=ACTIVE_STATUSES).exists():
            return name
    return ""


# ----------------------------------------------------------------------------- pruning


def prune_site(
    *, site: JiraSite, acting_user=None, now: datetime | None = None, dry_run: bool = False
) -> PruneReport:
    now = now or timezone.now()
    report = PruneReport()
    cursor, _ = PruneCursor.objects.get_or_create(site=site)
    hold = hold_on(site=site)
    if hold is not None:
        # A legal hold: no snapshot is pruned and no object deleted until it is released.
        report.skipped_gc_reason = f"under a legal hold since {hold.placed_at:%Y-%m-%d}"
        report.held = True
        if not dry_run:
            PruneCursor.objects.filter(pk=cursor.pk).update(pruned_at=now)
        return report
    store = ObjectStore(site.cloud_id)
    previous_prune = cursor.pruned_at
    counted = True if dry_run else _count_new(site, store, report, now)
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
    # So does the source of a running compaction.
    keep |= set(
        CompactionJob.objects.filter(site=site, status__in=ACTIVE_STATUSES).values_list(
            "source_id", flat=True
        )
    )
    for snap in snaps:
        if snap.id in keep:
            continue
        report.pruned_snapshots.append(str(snap.id))
        if dry_run:
            continue
        _prune_snapshot(site, snap, store, report, acting_user, now)
    if dry_run:
        return report
    if not counted or report.skipped_gc_reason:
        _done(cursor, now)
        return report
    writing = _writing(site)
    if writing:
        # A running job writes (or reuses) objects no manifest names yet: collect another time.
        report.skipped_gc_reason = f"{writing} is active for the site"
        return report
    _collect(site, store, report)
    if not cursor.counts_built or _failed_jobs_since(site, previous_prune):
        _collect_unnamed(site, store, report)
        cursor.counts_built = True
    _done(cursor, now)
    return report


def _done(cursor: PruneCursor, now: datetime) -> None:
    PruneCursor.objects.filter(pk=cursor.pk).update(pruned_at=now, counts_built=cursor.counts_built)


def _prune_snapshot(site, snap, store, report, acting_user, now) -> None:
    # Read what it names before its manifest goes: its count goes down with it (if it was
    # counted up: a snapshot left uncounted never added to the counts).
    objects = None
    if snap.refs_counted:
        try:
            objects = objects_of(store, snap)
            report.manifests_read += 1
        except UNREADABLE as exc:
            report.skipped_gc_reason = f"snapshot {snap.id} is unreadable ({exc}); nothing deleted"
    with transaction.atomic():
        Snapshot.objects.filter(pk=snap.pk).update(status=Snapshot.Status.PRUNED, pruned_at=now)
        record_event(
            actor=acting_user,
            action="backup.snapshot_pruned",
            target=snap,
            tenant=site.tenant,
            summary={"completed_at": snap.completed_at.isoformat(), **_replaced_by(snap)},
        )
        # The schedule's estimate no longer counts the pruned snapshot.
        from backups.services import schedule_estimates_refresh

        schedule_estimates_refresh(site_ids=[site.pk], now=now)
        if objects is not None:
            _count(site, objects, -1, now)
    path = layout.manifest_path(site.cloud_id, str(snap.id))
    if store.storage.exists(path):
        store.storage.delete(path)


def _replaced_by(snap: Snapshot) -> dict[str, str]:
    """The compacted copy that took a pruned snapshot's place, for its audit event."""
    copy = (
        Snapshot.objects.filter(compacted_from=snap, status=Snapshot.Status.COMPLETE)
        .values_list("pk", flat=True)
        .first()
    )
    return {"compacted_into": str(copy)} if copy else {}


def _collect(site: JiraSite, store: ObjectStore, report: PruneReport) -> None:
    """Delete the objects no complete snapshot names any more (their count is zero)."""
    garbage = list(
        StoredObjectRef.objects.filter(site=site, refs__lte=0).values_list("sha256", flat=True)
    )
    for sha in garbage:
        store.delete(sha)
    for start in range(0, len(garbage), 1000):
        chunk = garbage[start : start + 1000]
        StoredObjectRef.objects.filter(site=site, sha256__in=chunk, refs__lte=0).delete()
        StoredAttachment.objects.filter(site=site, sha256__in=chunk).delete()
    report.deleted_objects += garbage


def _collect_unnamed(site: JiraSite, store: ObjectStore, report: PruneReport) -> None:
    """Objects stored for the site that no counted snapshot names (written by a job that never
    committed, or before the counts existed): a listing of the site's objects."""
    report.listed_storage = True
    named: set[str] = set()
    for sha in StoredObjectRef.objects.filter(site=site, refs__gt=0).values_list(
        "sha256", flat=True
    ):
        # Sealed objects are stored under a keyed name, plain ones (format 2) under the hash.
        named.update(store.names(sha))
    unnamed = [name for name in store.list_all() if name not in named]
    for name in unnamed:
        store.delete_name(name)
    for start in range(0, len(unnamed), 1000):
        StoredAttachment.objects.filter(
            site=site, sha256__in=unnamed[start : start + 1000]
        ).delete()
    report.deleted_objects += unnamed


def sites_due(*, now: datetime, limit: int):
    """Sites with a snapshot not pruned for a day (never pruned first)."""
    has_snapshot = Snapshot.objects.filter(site=OuterRef("pk"))
    stale = PruneCursor.objects.filter(site=OuterRef("pk"), pruned_at__gt=now - PRUNE_EVERY)
    return (
        JiraSite.objects.filter(Exists(has_snapshot))
        .filter(~Exists(stale))
        .select_related("tenant", "backup_schedule")
        .order_by("pk")[:limit]
    )


def _quiet(sites: list[JiraSite]) -> set[int]:
    """The sites whose retention cannot have changed since their last prune: counts built, no
    snapshot committed since (none uncounted), no job failed or cancelled since, no age limit
    (the only rule that moves with the clock alone), the schedule unchanged and no legal hold
    released since. Six queries
    for all of them."""
    ids = [s.pk for s in sites]
    cursors = {c.site_id: c for c in PruneCursor.objects.filter(site_id__in=ids)}
    uncounted = set(
        Snapshot.objects.filter(
            site_id__in=ids, status=Snapshot.Status.COMPLETE, refs_counted=False
        )
        .order_by()
        .values_list("site_id", flat=True)
        .distinct()
    )
    ended: dict[int, datetime] = {}
    for model in WRITERS:
        rows = (
            model.objects.filter(site_id__in=ids, status__in=ENDED_UNCOMMITTED)
            .order_by()
            .values("site_id")
            .annotate(last=Max("finished_at"))
            .values_list("site_id", "last")
        )
        for site_id, last in rows:
            if last is not None:
                ended[site_id] = max(last, ended.get(site_id, last))
    # A legal hold released since: the prunes it stopped are due now.
    released: dict[int, datetime] = {}
    holds = LegalHold.objects.filter(
        Q(site_id__in=ids) | Q(tenant__sites__in=ids), released_at__isnull=False
    ).values_list("site_id", "tenant_id", "released_at")
    tenant_of = {s.pk: s.tenant_id for s in sites}
    for site_id, tenant_id, at in holds:
        for pk in ids:
            if pk == site_id or (tenant_id is not None and tenant_of[pk] == tenant_id):
                released[pk] = max(at, released.get(pk, at))
    quiet = set()
    for site in sites:
        cursor = cursors.get(site.pk)
        schedule = getattr(site, "backup_schedule", None)
        if cursor is None or not cursor.counts_built or cursor.pruned_at is None:
            continue
        if released.get(site.pk) and released[site.pk] >= cursor.pruned_at:
            continue
        if site.pk in uncounted:
            continue
        if ended.get(site.pk) and ended[site.pk] >= cursor.pruned_at:
            continue
        if schedule is not None and (
            schedule.max_age_days or schedule.updated_at >= cursor.pruned_at
        ):
            continue
        quiet.add(site.pk)
    return quiet


def prune_all(*, now: datetime | None = None, limit: int | None = None) -> dict[int, PruneReport]:
    """Prune the sites that are due (each once a day), at most ``RETENTION_SITES_PER_PASS`` per
    call: beat calls it every few minutes (``backups.tasks.enqueue_due_backups``), so a day's
    sites spread over the passes and a pass with none due costs one query. A site where nothing
    changed (``_quiet``) is only marked pruned: one UPDATE for all of them."""
    now = now or timezone.now()
    limit = limit or settings.RETENTION_SITES_PER_PASS
    due = list(sites_due(now=now, limit=limit))
    quiet = _quiet(due)
    PruneCursor.objects.filter(site_id__in=list(quiet)).update(pruned_at=now)
    reports = {pk: PruneReport() for pk in quiet}
    for site in due:
        if site.pk in quiet:
            continue
        try:
            reports[site.pk] = prune_site(site=site, now=now)
        except Exception:  # one site's storage trouble must not stop the others
            logger.exception("pruning site %s failed", site.pk)
    return reports
