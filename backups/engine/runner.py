"""The backup engine: a job's units of work are its steps, derived from its checkpoints by the
plan; when no step is left the snapshot is committed (manifest last).

``run_job`` runs one slice of a job through the job driver (``backups.jobs.driver``), which
claims the lease, admits and settles each step's points, checkpoints it, and turns every
failure into a state through the one failure map.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from atlassian.exceptions import AtlassianError
from atlassian.ratelimit import SCHEDULED
from backups import conf
from backups.engine import steps
from backups.engine.checkpoints import Done, commit_checkpoint, load_done, results
from backups.engine.source import client_for_site
from backups.exceptions import LeaseLost
from backups.jobs import leases
from backups.jobs.driver import SliceOutcome, Unit, run_slice
from backups.jobs.leases import Lease
from backups.models import BackupJob, Snapshot
from backups.services import schedule_estimates_refresh
from backups.snapshots.manifest import (
    ATTACHMENT_REFS,
    AttachmentEntry,
    Manifest,
    ManifestError,
    ShardEntry,
    read_manifest,
)
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from backups.snapshots.writer import commit_snapshot, write_shard
from tenants.scopes import site_software_scopes_missing

logger = logging.getLogger(__name__)

DEFAULT_STEP_ESTIMATE = 150
# Steps whose objects are issues (progress counts them).
ISSUE_STEPS = ("issues", "delta", "deletions")


@dataclass
class Step:
    key: str
    seq: int
    run: Any  # callable(ctx) -> StepResult


class Plan:
    """Derives the next step from the checkpoints done so far (the checkpoints are the plan's
    whole state, so a resumed job continues exactly where the last commit left it)."""

    def __init__(
        self,
        job: BackupJob,
        done: dict[str, Done],
        base: Manifest | None,
        base_index: dict[str, list[int]],
    ):
        self.job = job
        self.done = done
        self.base = base
        self.base_index = base_index
        self._changed: dict[str, set[int]] | None = None
        self.incremental = job.kind == BackupJob.Kind.INCREMENTAL and base is not None
        base_seq = max((s.seq for s in base.shards_of("issues")), default=0) if base else 0
        self.seq = base_seq + 1 if self.incremental else 0

    def projects(self) -> list[dict[str, str]]:
        return self.done["config"].result["projects"]

    def pages(self, prefix: str) -> list[Done]:
        return sorted(
            (cp for key, cp in self.done.items() if key.startswith(prefix)), key=lambda c: c.key
        )

    def next_step(self) -> Step | None:
        if "config" not in self.done:
            return Step("config", 0, steps.config_step)
        projects = self.projects()
        for project in projects:
            key = f"meta:{project['id']}"
            if key not in self.done:
                return Step(key, 1, lambda ctx, p=project: steps.project_meta_step(ctx, p))
        kind = "delta" if self.incremental else "issues"
        for project in projects:
            step = self._page_step(kind, project)
            if step is not None:
                return step
        if self.incremental:
            for project in projects:
                key = f"deletions:{project['id']}"
                if key not in self.done:
                    expected = self.expected_ids(project["id"])
                    return Step(
                        key,
                        3,
                        lambda ctx, p=project, e=expected: steps.deletions_step(
                            ctx,
                            project=p,
                            expected=e,
                            seq=self.seq,
                            shard_name=f"issues/{p['id']}/s{self.seq:04d}-reconcile",
                            page_size=conf.page_size(),
                        ),
                    )
        return None

    def _page_step(self, kind: str, project: dict[str, str]) -> Step | None:
        pid = project["id"]
        pages = self.pages(f"{kind}:{pid}:")
        if pages and pages[-1].result.get("is_last"):
            return None
        n = len(pages)
        if pages:
            jql, token = pages[-1].result["jql"], pages[-1].result["next_token"]
        else:
            token = None
            if kind == "delta":
                since = self.job.changes_since
                minutes = int((timezone.now() - since).total_seconds() // 60) + 1
                jql = steps.delta_jql(pid, minutes)
            else:
                jql = steps.project_jql(pid)
        name = (
            f"issues/{pid}/s{self.seq:04d}-{n:05d}" if kind == "delta" else f"issues/{pid}/{n:05d}"
        )

        def run(ctx, jql=jql, token=token, name=name):
            result = steps.issue_page_step(
                ctx,
                project=project,
                jql=jql,
                token=token,
                shard_name=name,
                seq=self.seq,
                page_size=conf.page_size(),
            )
            result.data["jql"] = jql
            return result

        return Step(f"{kind}:{pid}:{n:05d}", 2, run)

    def changed_ids(self) -> dict[str, set[int]]:
        """Project id -> ids of the issues the delta pages returned (read once every delta page
        is done: only the deletion steps and the index ask)."""
        if self._changed is None:
            changed: dict[str, set[int]] = {}
            for key, result in results(self.job, "delta:"):
                changed.setdefault(key.split(":")[1], set()).update(result.get("ids", []))
            self._changed = changed
        return self._changed

    def expected_ids(self, pid: str) -> list[int]:
        changed = self.changed_ids()
        elsewhere = (
            set().union(*(ids for p, ids in changed.items() if p != pid)) if changed else set()
        )
        base = set(self.base_index.get(pid, [])) - elsewhere
        return sorted(base | changed.get(pid, set()))

    def index(self, pages: dict[str, set[int]]) -> dict[str, list[int]]:
        """Project id -> the ids of its issues in the snapshot. ``pages``: the ids the full
        backup's issue pages returned, per project (``_finalize`` reads them with the shards)."""
        out: dict[str, list[int]] = {}
        for project in self.projects():
            pid = project["id"]
            if self.incremental:
                cp = self.done[f"deletions:{pid}"]
                ids = (set(self.expected_ids(pid)) - set(cp.result.get("deleted", []))) | set(
                    cp.result.get("added", [])
                )
            else:
                ids = pages.get(pid, set())
            out[pid] = sorted(ids)
        return out


def run_job(job_id: int, *, slice_seconds: float | None = None) -> SliceOutcome:
    """Run one slice of the backup job (see ``backups.jobs.driver``)."""
    return run_slice(BackupJob, job_id, BackupEngine, slice_seconds=slice_seconds)


class BackupEngine:
    """The backup job's units for the driver: its plan's next steps, then the snapshot."""

    def __init__(self, job_id: int, lease: Lease) -> None:
        self.job = BackupJob.objects.select_related("site", "site__tenant", "base_snapshot").get(
            pk=job_id
        )
        self.lease = lease
        self.site = self.job.site
        self.client: Any = None

    def open(self) -> None:
        job, lease = self.job, self.lease
        # Backups are scheduled work: they leave the pool's interactive reserve alone.
        self.client = client_for_site(job.site, priority=SCHEDULED)
        self.store = ObjectStore(job.site.cloud_id)
        self.done = load_done(job)
        try:
            base, base_index = _base(job, self.store)
        except ManifestError as exc:
            if self.done:
                raise
            # The base is unreadable (pruned, damaged): this run becomes a full backup.
            lease.heartbeat(kind=BackupJob.Kind.FULL, base_snapshot=None, changes_since=None)
            job.kind, job.base_snapshot, job.changes_since = BackupJob.Kind.FULL, None, None
            logger.warning(
                "job %s: base snapshot unreadable (%s); running a full backup", job.pk, exc
            )
            base, base_index = None, {}
        self.plan = Plan(job, self.done, base, base_index)
        self.ctx = steps.StepContext(
            client=self.client,
            store=self.store,
            site_pk=job.site_id,
            heartbeat=lease.heartbeat,
            software_missing=site_software_scopes_missing(job.site),
            base_reader=SnapshotReader(base, self.store.storage) if self.plan.incremental else None,
        )

    def next_unit(self) -> Unit | None:
        step = self.plan.next_step()
        if step is None:
            return None
        return Unit(step.key, _estimate(self.done), step)

    def run(self, unit: Unit) -> Any:
        return unit.work.run(self.ctx)

    def commit(self, unit: Unit, result: Any, points: int) -> None:
        step = unit.work
        issues = result.objects if step.key.split(":")[0] in ISSUE_STEPS else 0
        checkpoint = commit_checkpoint(
            self.lease,
            key=step.key,
            seq=step.seq,
            result=result.as_json(),
            points=points,
            objects=issues,
            bytes_stored=sum(s.size for s in result.shards),
        )
        self.done[step.key] = Done.of(checkpoint.key, checkpoint.points, checkpoint.result)
        if step.key == "config":
            _count_expected(self.job, self.lease, self.client, self.plan)

    def finalize(self) -> None:
        _finalize(self.job, self.lease, self.plan, self.store)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _estimate(done: dict[str, Done]) -> int:
    # The largest of the recent pages: reserving too little lets a pool overshoot into quota
    # 429s (which stop every tenant); reserving a little too much only delays a step.
    pages = [
        cp.points for key, cp in sorted(done.items()) if key.split(":")[0] in ("issues", "delta")
    ]
    if pages:
        return max(1, max(pages[-10:]))
    return DEFAULT_STEP_ESTIMATE


def _base(job: BackupJob, store: ObjectStore) -> tuple[Manifest | None, dict[str, list[int]]]:
    if job.kind != BackupJob.Kind.INCREMENTAL or job.base_snapshot is None:
        return None, {}
    manifest = read_manifest(store.storage, job.site.cloud_id, str(job.base_snapshot_id))
    return manifest, SnapshotReader(manifest, store.storage).issue_index()


def _count_expected(job: BackupJob, lease: Lease, client: Any, plan: Plan) -> None:
    """The expected total for progress, from ``search/approximate-count`` (one point)."""
    ids = [p["id"] for p in plan.projects()]
    if not ids:
        lease.heartbeat(objects_total=0)
        return
    scope = f"project in ({', '.join(ids)})"
    if plan.incremental:
        minutes = int((timezone.now() - job.changes_since).total_seconds() // 60) + 1
        scope += f' AND updated >= "-{minutes}m"'
    try:
        total = client.approximate_count(scope)
    except AtlassianError:
        return
    lease.heartbeat(objects_total=total)


def _finalize(job: BackupJob, lease: Lease, plan: Plan, store: ObjectStore) -> None:
    lease.heartbeat(force=True, current_step="committing the snapshot")
    shards: list[ShardEntry] = []
    # Refs of checkpoints written before attachments had refs shards (a job resumed across the
    # upgrade) and of a format-1 base: commit_snapshot writes them into one more refs shard.
    loose: list[AttachmentEntry] = []
    page_ids: dict[str, set[int]] = {}
    for key, result in results(job):
        if key.startswith("issues:"):
            page_ids.setdefault(key.split(":")[1], set()).update(result.get("ids", []))
        page = [ShardEntry(**s) for s in result.get("shards", [])]
        shards.extend(page)
        if not any(s.kind == ATTACHMENT_REFS for s in page):
            loose.extend(AttachmentEntry(**a) for a in result.get("attachments", []))
    projects = {p["id"] for p in plan.projects()}
    if plan.incremental:
        for shard in plan.base.shards:
            if shard.kind == "issues" and shard.name.split("/")[1] in projects:
                shards.append(shard)
            elif shard.kind == ATTACHMENT_REFS:
                # All of them, as format 1 kept every attachment of the base: an attachment
                # is only ever dropped with the last snapshot naming it.
                shards.append(shard)
        loose.extend(plan.base.attachments)
    index = plan.index(page_ids)
    del page_ids
    index_records = [{"projectId": pid, "ids": ids} for pid, ids in sorted(index.items())]
    shards.append(write_shard(store, "issue_index", "issue_index/all", index_records))
    del index_records
    counts: dict[str, int] = {}
    for shard in shards:
        if shard.kind != "issues":
            counts[shard.kind] = counts.get(shard.kind, 0) + shard.count
    counts["issues"] = sum(len(ids) for ids in index.values())
    del index
    base_id = str(job.base_snapshot_id) if plan.incremental else None
    started = job.started_at or timezone.now()
    finished = timezone.now()
    manifest, path, sha, _size = commit_snapshot(
        storage=store.storage,
        snapshot_id=str(job.snapshot_id),
        site={"cloud_id": job.site.cloud_id, "url": job.site.url, "name": job.site.name},
        kind=BackupJob.Kind.INCREMENTAL if plan.incremental else BackupJob.Kind.FULL,
        started_at=started.isoformat(),
        finished_at=finished.isoformat(),
        shard_entries=shards,
        attachments=loose,
        changes_since=job.changes_since.isoformat() if plan.incremental else None,
        base_snapshot_id=base_id,
        record_counts=counts,
    )
    with transaction.atomic():
        current = BackupJob.objects.select_for_update().get(pk=job.pk)
        if current.lease_token != lease.token or current.status != BackupJob.Status.RUNNING:
            raise LeaseLost(f"job {job.pk} lost its lease before committing")
        Snapshot.objects.update_or_create(
            id=job.snapshot_id,
            defaults={
                "site_id": job.site_id,
                "job_id": job.pk,
                "kind": manifest.kind,
                "format_version": manifest.format_version,
                "manifest_path": path,
                "manifest_sha256": sha,
                "started_at": started,
                "completed_at": finished,
                "changes_since": job.changes_since if plan.incremental else None,
                "counts": manifest.counts,
                "objects_count": manifest.total_objects,
                "bytes_total": manifest.total_bytes,
                "points_spent": current.points_spent,
                # Layers a reader merges: the base's and this run's (compaction bounds them).
                "layers": plan.seq + 1,
            },
        )
        # The schedule's last success and points-per-hour estimate, in the same transaction.
        schedule_estimates_refresh(site_ids=[job.site_id], now=finished)
        # What the snapshot does not hold and why (also in its snapshot_notes shard).
        notes = plan.done["config"].result.get("notes") or []
        leases.finish(
            lease,
            status=BackupJob.Status.SUCCEEDED,
            reason="; ".join(notes),
            kind=manifest.kind,
            current_step="",
            objects_total=max(current.objects_total or 0, current.objects_done),
        )
