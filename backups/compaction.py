"""Compaction: an incremental snapshot rewritten as a synthetic full of the same moment, from
storage alone (no call to Atlassian), so that restore and verify read one layer, not a chain.

An incremental snapshot names its base's issue shards plus its own layer (``seq``): after N
incrementals a reader merges N + 1 layers, and every layer's attachment refs are carried along.
Compaction reads the layers once and writes, per project, the issues as they stood (the newest
layer's record of each id, tombstones dropped) at layer 0:

* a base page none of whose issues changed is kept as it is (the same object);
* every other issue goes into new pages ``issues/<projectId>/c<job>-<page>``, each with its refs
  shard (``attachment_refs/...``, from the records' attachments), so the refs name exactly the
  attachments of the issues the site holds;
* every other kind (configuration, users, projects, the issue index) is the source's shard.

The result is committed like a backup's (objects checked, manifest last) as a ``Snapshot`` of
kind full with ``compacted_from`` = the source, the source's window and ``layers = 1``; the next
incremental builds on it, and retention prunes the source in its place (``backups.retention``).

The job runs on the job driver (lease, heartbeats, one unit per project checkpointed in
``CompactionJob.state``, the failure map), so a worker killed mid-way leaves a job the reaper
re-queues and the next slice resumes after the last project done. Beat compacts the sites whose
newest snapshot merges ``BACKUPS_COMPACT_AFTER_LAYERS`` layers or more
(``compactions_enqueue_due``); operators use ``manage.py compact_snapshots``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from backups import conf
from backups.engine.steps import StepResult
from backups.exceptions import BackupRefused, LeaseLost
from backups.jobs import leases
from backups.jobs.driver import SliceOutcome, Unit, run_slice
from backups.jobs.leases import Lease
from backups.models import ACTIVE_STATUSES, BackupJob, CompactionJob, Snapshot
from backups.selectors import newest_first
from backups.services import refuse_inactive_tenant
from backups.snapshots.manifest import ATTACHMENT_REFS, Manifest, ShardEntry, read_manifest
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import DELETED, SnapshotReader
from backups.snapshots.writer import commit_snapshot, write_attachment_refs
from tenants.audit import record_event
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# A failed compaction of a snapshot is tried again by beat after this long.
RETRY_FAILED_AFTER = timedelta(days=1)


# ----------------------------------------------------------------------------- requests


def compaction_enqueue(
    *, snapshot: Snapshot, acting_user: Any, enqueue: bool = True
) -> tuple[CompactionJob, bool]:
    """Queue the compaction of ``snapshot`` (a complete incremental one). Returns (job,
    created); when a compaction of the site is already active, that job and False. Raises
    ``BackupRefused`` (nothing changed) for a snapshot that cannot or need not be compacted."""
    site = snapshot.site
    if snapshot.status != Snapshot.Status.COMPLETE:
        raise BackupRefused(f"{snapshot} is {snapshot.status}; only a complete one is compacted")
    if snapshot.kind != BackupJob.Kind.INCREMENTAL:
        raise BackupRefused(f"{snapshot} is a full snapshot (one layer): nothing to compact")
    done = Snapshot.objects.filter(compacted_from=snapshot, status=Snapshot.Status.COMPLETE)
    if done.exists():
        raise BackupRefused(f"{snapshot} is already compacted into {done.first()}")
    refuse_inactive_tenant(site, BackupRefused)
    existing = CompactionJob.objects.filter(site=site, status__in=ACTIVE_STATUSES).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            job = CompactionJob.objects.create(
                site=site,
                source=snapshot,
                requested_by=acting_user if getattr(acting_user, "pk", None) else None,
            )
            record_event(
                actor=acting_user,
                action="backup.compaction_enqueued",
                target=job,
                tenant=site.tenant,
                summary={
                    "site": site.cloud_id,
                    "snapshot": str(snapshot.pk),
                    "layers": snapshot.layers,
                },
            )
            if enqueue:
                _enqueue(job.pk)
    except IntegrityError:
        existing = CompactionJob.objects.filter(site=site, status__in=ACTIVE_STATUSES).first()
        if existing is None:
            raise
        return existing, False
    return job, True


def _enqueue(job_id: int) -> None:
    from backups.tasks import run_compaction_job

    transaction.on_commit(lambda: run_compaction_job.delay(job_id))


def compactions_due(*, now: datetime | None = None, limit: int | None = None) -> list[Snapshot]:
    """The newest snapshot of each site, where it merges at least
    ``BACKUPS_COMPACT_AFTER_LAYERS`` layers, its tenant is active, and no compaction of it ran
    (one that failed is tried again a day later)."""
    now = now or timezone.now()
    newest = (
        Snapshot.objects.filter(site=OuterRef("site"), status=Snapshot.Status.COMPLETE)
        .order_by(*newest_first())
        .values("pk")[:1]
    )
    tried = CompactionJob.objects.filter(source=OuterRef("pk")).exclude(
        status=CompactionJob.Status.FAILED, finished_at__lt=now - RETRY_FAILED_AFTER
    )
    due = (
        Snapshot.objects.filter(
            status=Snapshot.Status.COMPLETE,
            kind=BackupJob.Kind.INCREMENTAL,
            layers__gte=conf.compact_after_layers(),
            site__tenant__status=Tenant.Status.ACTIVE,
        )
        .filter(pk=Subquery(newest))
        .filter(~Exists(tried))
        .select_related("site", "site__tenant")
        .order_by("-layers", "site_id")
    )
    return list(due[: limit or conf.compactions_per_pass()])


def compactions_enqueue_due(*, now: datetime | None = None) -> list[int]:
    """Beat: queue the compactions that are due (``compactions_due``); returns the job ids."""
    created = []
    for snapshot in compactions_due(now=now):
        try:
            job, was_created = compaction_enqueue(snapshot=snapshot, acting_user=None)
        except BackupRefused as exc:
            logger.info("compaction of %s not queued: %s", snapshot.pk, exc)
            continue
        if was_created:
            created.append(job.pk)
    return created


def compaction_jobs_reap(*, now: datetime | None = None) -> list[int]:
    """Re-queue compactions whose worker died (lease expired) or whose message was lost."""
    now = now or timezone.now()
    stale = CompactionJob.objects.filter(
        Q(status=CompactionJob.Status.RUNNING, lease_expires_at__lt=now)
        | Q(
            status=CompactionJob.Status.QUEUED,
            created_at__lt=now - timedelta(seconds=conf.lease_seconds()),
            lease_expires_at__isnull=True,
        )
    ).exclude(not_before__gt=now)
    ids = list(stale.values_list("pk", flat=True))
    for job_id in ids:
        _enqueue(job_id)
    return ids


# ----------------------------------------------------------------------------- the job


def run_compaction(job_id: int, *, slice_seconds: float | None = None) -> SliceOutcome:
    """Run one slice of the compaction job (see ``backups.jobs.driver``)."""
    return run_slice(CompactionJob, job_id, CompactionEngine, slice_seconds=slice_seconds)


class CompactionEngine:
    """The compaction job's units for the driver: one per project, then the snapshot. It has no
    Atlassian client: nothing is admitted against a points pool."""

    def __init__(self, job_id: int, lease: Lease) -> None:
        self.job = CompactionJob.objects.select_related("site", "site__tenant", "source").get(
            pk=job_id
        )
        self.lease = lease
        self.site = self.job.site
        self.client: Any = None
        self._winners: dict[str, tuple[int, str]] | None = None

    def open(self) -> None:
        self.store = ObjectStore(self.site.cloud_id)
        self.source = read_manifest(self.store.storage, self.site.cloud_id, str(self.job.source_id))
        self.reader = SnapshotReader(self.source, self.store.storage)
        self.done: dict[str, dict] = dict((self.job.state or {}).get("projects", {}))
        self.projects = sorted(
            {e.name.split("/")[1] for e in self.source.shards_of("issues")},
            key=lambda p: (len(p), p),
        )
        if self.job.objects_total is None:
            self.lease.update(objects_total=self.source.counts.get("issues", 0))

    def next_unit(self) -> Unit | None:
        for pid in self.projects:
            if pid not in self.done:
                return Unit(f"compact:{pid}", 0, pid)
        return None

    def run(self, unit: Unit) -> dict[str, Any]:
        return compact_project(
            self.reader,
            self.store,
            unit.work,
            self.winners(),
            tag=self.job.snapshot_id.hex[:8],
            page_size=conf.page_size(),
            heartbeat=self.lease.heartbeat,
        )

    def commit(self, unit: Unit, result: dict[str, Any], points: int) -> None:
        self.done[unit.work] = result
        self.lease.update(
            state={"projects": self.done},
            objects_done=sum(r["issues"] for r in self.done.values()),
        )

    def finalize(self) -> None:
        _commit(self.job, self.lease, self.source, self.store, self.done, self.projects)

    def close(self) -> None:
        pass

    def winners(self) -> dict[str, tuple[int, str]]:
        """Issue id -> the (layer, shard name) holding its newest record, for every issue an
        incremental layer holds (changed, moved or deleted); read once per slice."""
        if self._winners is None:
            self._winners = newest_records(self.reader, self.source)
        return self._winners


def _order(entry: ShardEntry) -> tuple[int, str]:
    # The reader's order: newest layer first, then by name; the first record of an id wins.
    return (-entry.seq, entry.name)


def newest_records(reader: SnapshotReader, manifest: Manifest) -> dict[str, tuple[int, str]]:
    winners: dict[str, tuple[int, str]] = {}
    layered = sorted((e for e in manifest.shards_of("issues") if e.seq > 0), key=_order)
    for entry in layered:
        for record in reader.shard_records(entry.sha256):
            winners.setdefault(str(record["id"]), (entry.seq, entry.name))
    return winners


def compact_project(
    reader: SnapshotReader,
    store: ObjectStore,
    pid: str,
    winners: dict[str, tuple[int, str]],
    *,
    tag: str,
    page_size: int,
    heartbeat=lambda: None,
) -> dict[str, Any]:
    """The project's issues as the snapshot holds them, at layer 0: its untouched base pages
    as they are, every other current record in new pages. Holds one page at a time."""
    entries = sorted(
        (e for e in reader.manifest.shards_of("issues") if e.name.split("/")[1] == pid), key=_order
    )
    result = StepResult()
    page: list[dict[str, Any]] = []
    seen: set[str] = set()
    pages = issues = 0

    def flush() -> None:
        nonlocal page, pages
        if page:
            attachments = [a for r in page for a in _attachments(r)]
            name = f"issues/{pid}/c{tag}-{pages:05d}"
            result.add_issue_shards(store, name, page, attachments, 0)
            pages += 1
            page = []

    for entry in entries:
        heartbeat()
        records = list(reader.shard_records(entry.sha256))
        here = (entry.seq, entry.name)
        current = []
        for record in records:
            rid = str(record["id"])
            if winners.get(rid, here) != here or rid in seen:
                continue  # a newer layer (or an earlier page) holds this issue
            seen.add(rid)
            if not record.get(DELETED):
                current.append(record)
        issues += len(current)
        if entry.seq == 0 and len(current) == len(records):
            # Nothing on this page changed: the same object, now with its refs named afresh.
            result.shards.append(replace(entry, seq=0))
            refs = write_attachment_refs(
                store,
                entry.name.replace("issues/", f"{ATTACHMENT_REFS}/", 1),
                ((a["sha256"], a["size"]) for r in records for a in _attachments(r)),
            )
            if refs is not None:
                result.shards.append(refs)
            continue
        for record in current:
            page.append(record)
            if len(page) >= page_size:
                flush()
    flush()
    return {"shards": [s.as_dict() for s in result.shards], "issues": issues}


def _attachments(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in record.get("attachments") or [] if a.get("sha256")]


def _commit(
    job: CompactionJob,
    lease: Lease,
    source: Manifest,
    store: ObjectStore,
    done: dict[str, dict],
    projects: list[str],
) -> None:
    lease.heartbeat(force=True, current_step="committing the compacted snapshot")
    shards = [s for s in source.shards if s.kind not in ("issues", ATTACHMENT_REFS)]
    for pid in projects:
        shards.extend(ShardEntry(**s) for s in done[pid]["shards"])
    issues = sum(done[pid]["issues"] for pid in projects)
    counts = {**source.counts, "issues": issues}
    manifest, path, sha, _size = commit_snapshot(
        storage=store.storage,
        snapshot_id=str(job.snapshot_id),
        site=dict(source.site),
        kind=BackupJob.Kind.FULL,
        started_at=source.started_at,
        finished_at=source.finished_at,
        shard_entries=shards,
        record_counts=counts,
        compacted_from=source.snapshot_id,
    )
    origin = job.source
    with transaction.atomic():
        current = CompactionJob.objects.select_for_update().get(pk=job.pk)
        if current.lease_token != lease.token or current.status != CompactionJob.Status.RUNNING:
            raise LeaseLost(f"compaction {job.pk} lost its lease before committing")
        snapshot, _ = Snapshot.objects.update_or_create(
            id=job.snapshot_id,
            defaults={
                "site_id": job.site_id,
                "job": None,
                "kind": BackupJob.Kind.FULL,
                "format_version": manifest.format_version,
                "manifest_path": path,
                "manifest_sha256": sha,
                "started_at": origin.started_at,
                "completed_at": origin.completed_at,
                "changes_since": None,
                "counts": manifest.counts,
                "objects_count": manifest.total_objects,
                "bytes_total": manifest.total_bytes,
                "points_spent": 0,
                "layers": 1,
                "compacted_from": origin,
            },
        )
        record_event(
            actor=None,
            action="backup.snapshot_compacted",
            target=snapshot,
            tenant=job.site.tenant,
            summary={
                "site": job.site.cloud_id,
                "source": str(origin.pk),
                "layers_before": origin.layers,
                "issues": issues,
                "job": job.pk,
            },
        )
        leases.finish(
            lease,
            status=CompactionJob.Status.SUCCEEDED,
            objects_done=issues,
            objects_total=issues,
        )
