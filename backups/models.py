"""Backup jobs, their checkpoints, the snapshots they commit, schedules and retention.

Models hold data and database constraints only; writes go through ``backups.services`` and the
engine (``backups.engine``). The invariants live in the database: one active job per site (a
partial unique index), one checkpoint per job and step, and a lease token that every commit of a
step is conditioned on (fencing).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from atlassian.ratelimit import GLOBAL_POOL
from backups.jobs.leases import LeasedJob

ACTIVE_STATUSES = ("queued", "running", "paused_needs_reauth")
# Sites whose schedules the quota planner counts (``JiraSite.Status`` values).
LIVE_SITE_STATUSES = ("active", "needs_reauth")


def one_active_per_site(name: str, what: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(
        fields=["site"],
        condition=Q(status__in=ACTIVE_STATUSES),
        name=name,
        violation_error_message=f"A {what} of this site is already queued or running.",
    )


class BackupJob(LeasedJob):
    class Kind(models.TextChoices):
        FULL = "full", "Full"
        INCREMENTAL = "incremental", "Incremental"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        PAUSED_NEEDS_REAUTH = "paused_needs_reauth", "Paused: needs re-authorization"

    site = models.ForeignKey(
        "tenants.JiraSite", on_delete=models.PROTECT, related_name="backup_jobs"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.INCREMENTAL)
    # What was asked for; an incremental without a usable base runs as full (kind says so).
    requested_kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.INCREMENTAL)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.QUEUED)
    base_snapshot = models.ForeignKey(
        "Snapshot", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The snapshot this job writes (id fixed when the job starts, so re-runs write the same one).
    snapshot_id = models.UUIDField(default=uuid.uuid4, editable=False)
    changes_since = models.DateTimeField(null=True, blank=True)
    # Progress (besides current_step).
    last_checkpoint = models.CharField(max_length=200, blank=True)
    objects_done = models.PositiveBigIntegerField(default=0)
    objects_total = models.PositiveBigIntegerField(null=True, blank=True)
    bytes_stored = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            one_active_per_site("backupjob_one_active_per_site", "backup"),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "queued",
                        "running",
                        "succeeded",
                        "failed",
                        "cancelled",
                        "paused_needs_reauth",
                    ]
                ),
                name="backupjob_status_valid",
                violation_error_message="Not a state a backup job can be in.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["full", "incremental"]),
                name="backupjob_kind_valid",
                violation_error_message="A backup is full or incremental.",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "lease_expires_at"], name="backupjob_lease"),
            # The staff console: the job list in its order (``-created_at`` plus the admin's
            # ``-pk`` tie-break), unfiltered, by status and by kind, and the dashboard's "failed
            # in the last 24 h", without sorting a million rows.
            models.Index(fields=["-created_at", "-id"], name="backupjob_created"),
            models.Index(fields=["status", "-created_at", "-id"], name="backupjob_status_created"),
            models.Index(fields=["kind", "-created_at", "-id"], name="backupjob_kind_created"),
            models.Index(fields=["status", "finished_at"], name="backupjob_status_finished"),
        ]

    def __str__(self) -> str:
        # What staff read in links, audit rows and titles: "Full backup #8".
        return f"{self.get_kind_display()} backup #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class Checkpoint(models.Model):
    """One step of a job: its cursor while it runs, its result (shard references) once done."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"

    job = models.ForeignKey(BackupJob, on_delete=models.CASCADE, related_name="checkpoints")
    key = models.CharField(max_length=200)
    seq = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    state = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    points = models.PositiveBigIntegerField(default=0)
    objects_done = models.PositiveBigIntegerField(default=0)
    lease_generation = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["job", "seq", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "key"],
                name="checkpoint_unique_job_key",
                violation_error_message="This job already has this step.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"


class Snapshot(models.Model):
    """A committed snapshot: its manifest exists in storage. Rows exist only once committed."""

    class Status(models.TextChoices):
        COMPLETE = "complete", "Complete"
        PRUNED = "pruned", "Pruned"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    site = models.ForeignKey("tenants.JiraSite", on_delete=models.PROTECT, related_name="snapshots")
    job = models.OneToOneField(
        BackupJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="snapshot"
    )
    kind = models.CharField(max_length=16, choices=BackupJob.Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    format_version = models.PositiveSmallIntegerField()
    manifest_path = models.CharField(max_length=400)
    manifest_sha256 = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField()
    changes_since = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict)
    objects_count = models.PositiveIntegerField(default=0)
    bytes_total = models.PositiveBigIntegerField(default=0)
    points_spent = models.PositiveBigIntegerField(default=0)
    pruned_at = models.DateTimeField(null=True, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_verify_problems = models.JSONField(default=list, blank=True)
    # Issue layers a reader merges (1: a full; an incremental: its base's + 1). Compaction
    # (``backups.compaction``) keeps it bounded.
    layers = models.PositiveSmallIntegerField(default=1)
    # A synthetic full written by compaction: the incremental snapshot whose moment it holds
    # (same window and content, one layer, no base). It takes that snapshot's place.
    compacted_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="compactions"
    )
    # Retention has counted the objects it names (``StoredObjectRef``), exactly once.
    refs_counted = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["-completed_at"]
        get_latest_by = "completed_at"
        indexes = [
            models.Index(fields=["site", "status", "completed_at"], name="snapshot_site"),
            # Retention's "what changed since the last prune": the snapshots not counted yet.
            models.Index(
                fields=["site"], name="snapshot_uncounted", condition=Q(refs_counted=False)
            ),
        ]

    def __str__(self) -> str:
        # "Full snapshot 0dd707c9 of 2026-12-07 00:18 UTC": the short id is what commands take.
        kind = "Compacted full" if self.compacted_from_id else self.get_kind_display()
        return f"{kind} snapshot {str(self.pk)[:8]} of {self.completed_at:%Y-%m-%d %H:%M} UTC"


class CompactionJob(LeasedJob):
    """Compaction of an incremental snapshot's chain into a synthetic full of the same moment,
    read from storage only (no call to Atlassian). Runs on the job driver like a backup: a unit
    per project (checkpointed in ``state``), then the manifest and the ``Snapshot`` row."""

    # A backup job's states (the lease module needs them all; a compaction never needs a
    # credential, so it is never paused for re-authorization).
    Status = BackupJob.Status

    site = models.ForeignKey(
        "tenants.JiraSite", on_delete=models.PROTECT, related_name="compaction_jobs"
    )
    source = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="+")
    # The synthetic full this job writes (fixed at creation, so a resumed job writes the same).
    snapshot_id = models.UUIDField(default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.QUEUED)
    # Checkpoints: project id -> the shards written for it and its issues.
    state = models.JSONField(default=dict, blank=True)
    objects_done = models.PositiveBigIntegerField(default=0)
    objects_total = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            one_active_per_site("compactionjob_one_active_per_site", "compaction"),
        ]
        indexes = [models.Index(fields=["status", "lease_expires_at"], name="compactionjob_lease")]

    def __str__(self) -> str:
        return f"Compaction #{self.pk}"


class StoredAttachment(models.Model):
    """Which stored object holds an attachment's bytes (attachments never change in Jira), so a
    backup downloads an attachment once per site, ever."""

    site = models.ForeignKey("tenants.JiraSite", on_delete=models.CASCADE, related_name="+")
    attachment_id = models.CharField(max_length=64)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "attachment_id"],
                name="storedattachment_unique",
                violation_error_message="This attachment is already stored for this site.",
            ),
        ]

    def __str__(self) -> str:
        return f"attachment {self.attachment_id} -> {self.sha256[:12]}"


class BackupSchedule(models.Model):
    """When a site is backed up, and how long its snapshots are kept.

    One beat task (``backups.tasks.enqueue_due_backups``) enqueues every due site. Retention
    keeps the union of: the newest ``keep_last``; the newest per day for ``keep_daily`` days,
    per ISO week for ``keep_weekly`` weeks, per month for ``keep_monthly`` months; and drops
    everything older than ``max_age_days`` (0 = no limit) except the newest snapshot.
    """

    site = models.OneToOneField(
        "tenants.JiraSite", on_delete=models.CASCADE, related_name="backup_schedule"
    )
    enabled = models.BooleanField(default=True)
    interval_hours = models.PositiveIntegerField(default=24)
    full_every_days = models.PositiveIntegerField(
        default=30, help_text="Run a full backup when the last full one is older than this."
    )
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    keep_last = models.PositiveIntegerField(default=7)
    keep_daily = models.PositiveIntegerField(default=14)
    keep_weekly = models.PositiveIntegerField(default=8)
    keep_monthly = models.PositiveIntegerField(default=12)
    max_age_days = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    # Kept by the backup service (``backups.services.schedule_estimates_refresh``) when a
    # snapshot commits, retention prunes or the interval changes; refreshed daily by beat.
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    # last_success_at + OVERDUE_INTERVALS x interval: the dashboard's "overdue" is
    # ``overdue_at < now`` (NULL = never backed up).
    overdue_at = models.DateTimeField(null=True, blank=True, editable=False)
    points_per_hour_estimate = models.FloatField(default=0.0, db_default=0.0, editable=False)
    # Copies of the two site facts the quota planner filters on, so the dashboard reads this
    # table alone: the rate-limit pool the site's backups draw on (``pool_of``: "global" for
    # the vendor grant, "api-token:<cloud id>" otherwise) and the site's status. Set when the
    # schedule is created and kept by the tenants services that change a site's credential
    # or status (``backups.services.schedules_follow_sites``, same transaction).
    pool = models.CharField(max_length=80, blank=True, editable=False)
    site_status = models.CharField(max_length=16, blank=True, editable=False)

    class Meta:
        # Only the enabled schedules of live sites (not disconnected, not offboarded) count.
        indexes = [
            # The global pool's total (an index-only scan: a tenth of the table's pages) and its
            # biggest consumers (the first entries).
            models.Index(
                fields=["-points_per_hour_estimate", "id"],
                name="backupschedule_global_need",
                condition=Q(enabled=True, site_status__in=LIVE_SITE_STATUSES, pool=GLOBAL_POOL),
            ),
            # The legacy pools with the biggest need (one site each).
            models.Index(
                fields=["-points_per_hour_estimate"],
                name="backupschedule_legacy_need",
                condition=Q(enabled=True, site_status__in=LIVE_SITE_STATUSES)
                & ~Q(pool=GLOBAL_POOL),
            ),
            # The dashboard's overdue count (active sites only): a range read.
            models.Index(
                fields=["overdue_at"],
                name="backupschedule_overdue",
                condition=Q(enabled=True, site_status="active"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(interval_hours__gte=1),
                name="backupschedule_interval_positive",
                violation_error_message="Back up at most once an hour: the interval is at least 1 hour.",
            ),
            models.CheckConstraint(
                condition=Q(keep_last__gte=1),
                name="backupschedule_keeps_one",
                violation_error_message="Retention keeps at least the newest snapshot: keep last is at least 1.",
            ),
        ]

    def __str__(self) -> str:
        return f"every {self.interval_hours} h (schedule #{self.pk})"


from backups.protection.models import (  # noqa: E402,F401
    Incident,
    ProtectionCursor,
    ProtectionPolicy,
    ProtectionTally,
    PruneCursor,
    SiteProtection,
    StoredObjectRef,
)
from backups.restore.models import RestoreItem, RestoreJob  # noqa: E402,F401
from backups.rollback.models import RollbackItem, RollbackJob  # noqa: E402,F401


class TenantErasure(models.Model):
    """The evidence that an offboarded tenant's backups were erased (issue 22): when, what was
    deleted (counted), which data keys were destroyed. One per tenant; while a legal hold
    stops the erasure it says so (``held``) and nothing is deleted."""

    class Status(models.TextChoices):
        HELD = "held", "Held (legal hold)"
        DONE = "done", "Erased"

    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="erasure"
    )
    status = models.CharField(max_length=8, choices=Status.choices)
    detail = models.CharField(max_length=500, blank=True)
    offboarded_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    sites = models.JSONField(default=list, blank=True)  # cloud ids
    snapshots_erased = models.PositiveIntegerField(default=0)
    objects_deleted = models.PositiveIntegerField(default=0)
    bytes_deleted = models.PositiveBigIntegerField(default=0)
    data_keys_destroyed = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["held", "done"]),
                name="tenanterasure_status",
                violation_error_message="An erasure is held or done.",
            ),
        ]

    def __str__(self) -> str:
        return f"erasure of tenant {self.tenant_id}: {self.get_status_display()}"
