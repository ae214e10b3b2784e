"""Restore jobs and their id map.

``RestoreJob`` is what was asked (snapshot, target site, scope, dry run), its state (status with a
readable reason, lease for fencing, counters, per-item errors) and its plan. ``RestoreItem`` maps
an object of the snapshot's site to the object created for it in the target site, per target site
(not per job): a second restore of the same snapshot into the same site finds every issue it
already created and creates nothing. A row in state ``pending`` means "a create was (maybe) sent
and its answer not recorded": the next run looks in the target before creating again.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from backups.jobs.leases import JobStatus, LeasedJob

RESTORE_ACTIVE_STATUSES = ("queued", "running", "paused_needs_reauth")


class RestoreJob(LeasedJob):
    class Scope(models.TextChoices):
        SITE = "site", "Whole site"
        PROJECTS = "projects", "Projects"
        ISSUES = "issues", "Issues"

    Status = JobStatus

    class OnDamaged(models.TextChoices):
        STOP = "stop", "Stop before writing anything"
        SKIP = "skip", "Skip damaged objects, restore the rest"

    snapshot = models.ForeignKey(
        "backups.Snapshot", on_delete=models.PROTECT, related_name="restore_jobs"
    )
    target_site = models.ForeignKey(
        "tenants.JiraSite", on_delete=models.PROTECT, related_name="restore_jobs"
    )
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.SITE)
    project_keys = models.JSONField(default=list, blank=True)
    issue_keys = models.JSONField(default=list, blank=True)
    dry_run = models.BooleanField(default=False)
    # Account id written where a user of the snapshot is unknown in the target; "" = leave the
    # field empty (the reporter then defaults to the restoring account).
    user_fallback = models.CharField(max_length=128, blank=True)
    create_projects = models.BooleanField(default=True)
    # What to do when objects of the snapshot are missing or do not hash to their manifest's
    # SHA-256 (found before the first write, and again as each leaves storage).
    on_damaged = models.CharField(max_length=8, choices=OnDamaged.choices, default=OnDamaged.STOP)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.QUEUED)
    # The plan of the dry run (or of the last planning pass): counts and reasons.
    plan = models.JSONField(default=dict, blank=True)
    # Mapping of the source site's configuration onto the target (computed once per job).
    mapping = models.JSONField(default=dict, blank=True)
    # Which phases are finished: the checkpoints of the job (the id map holds the rest).
    done_steps = models.JSONField(default=list, blank=True)
    counters = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    run_id = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["target_site"],
                condition=Q(status__in=RESTORE_ACTIVE_STATUSES, dry_run=False),
                name="restorejob_one_active_per_target",
                violation_error_message="A restore into this site is already running: wait for it or cancel it.",
            ),
            models.CheckConstraint(
                condition=Q(scope__in=["site", "projects", "issues"]),
                name="restorejob_scope_valid",
                violation_error_message="Not a restore scope: choose the whole site, projects or issues.",
            ),
        ]
        indexes = [models.Index(fields=["status", "lease_expires_at"], name="restorejob_lease")]

    def __str__(self) -> str:
        kind = "dry run" if self.dry_run else "restore"
        return f"{kind} #{self.pk} of snapshot {self.snapshot_id} into {self.target_site_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in RESTORE_ACTIVE_STATUSES


class RestoreItem(models.Model):
    """Source object -> target object, per target site (the id map)."""

    class Kind(models.TextChoices):
        PROJECT = "project", "Project"
        COMPONENT = "component", "Component"
        VERSION = "version", "Version"
        ISSUE = "issue", "Issue"
        LINK = "link", "Issue link"
        SPRINT = "sprint", "Sprint"

    class State(models.TextChoices):
        PENDING = "pending", "Create sent, answer not recorded"
        CREATED = "created", "Created"
        COMPLETE = "complete", "Created with all its parts"
        EXISTING = "existing", "Already in the target"
        FAILED = "failed", "Failed"

    target_site = models.ForeignKey(
        "tenants.JiraSite", on_delete=models.CASCADE, related_name="restore_items"
    )
    source_cloud_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source_id = models.CharField(max_length=64)
    source_key = models.CharField(max_length=255, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_key = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # Last job that touched the row, and what it did (child counts, the error of a failure).
    job = models.ForeignKey(
        RestoreJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    detail = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["target_site", "source_cloud_id", "kind", "source_id"],
                name="restoreitem_unique_source",
                violation_error_message="This source item is already mapped in the target site.",
            ),
        ]
        indexes = [models.Index(fields=["job", "kind", "state"], name="restoreitem_job")]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_key or self.source_id} -> {self.target_key or self.target_id or '?'} ({self.state})"
