"""Roll-back jobs and their per-issue rows.

``RollbackJob`` is what was asked (snapshot, site, scope: issue keys, projects, JQL or "changed
between T1 and T2", optionally "by account X"; whether parts added since are removed; dry run),
its state (status with a readable reason, lease for fencing, counters, errors) and its
checkpoint. ``RollbackItem`` is one issue in scope: the fields the roll-back considers, its
diff (field: now → snapshot, parts to bring back or remove) and what was written. A row in state
``writing`` means "writes were (maybe) sent and not recorded": the next run reads the issue again
and writes only what is still different, so nothing is written twice.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from backups.jobs.leases import JobStatus, LeasedJob

ROLLBACK_ACTIVE_STATUSES = ("queued", "running", "paused_needs_reauth")


class RollbackJob(LeasedJob):
    class Scope(models.TextChoices):
        ISSUES = "issues", "Issues"
        PROJECTS = "projects", "Projects"
        JQL = "jql", "JQL"
        CHANGED = "changed", "Changed between two times"

    Status = JobStatus

    snapshot = models.ForeignKey(
        "backups.Snapshot", on_delete=models.PROTECT, related_name="rollback_jobs"
    )
    site = models.ForeignKey(
        "tenants.JiraSite", on_delete=models.PROTECT, related_name="rollback_jobs"
    )
    scope = models.CharField(max_length=16, choices=Scope.choices)
    issue_keys = models.JSONField(default=list, blank=True)
    project_keys = models.JSONField(default=list, blank=True)
    jql = models.TextField(blank=True)
    changed_from = models.DateTimeField(null=True, blank=True)
    changed_to = models.DateTimeField(null=True, blank=True)
    # Only changes (changelog entries) by this Atlassian account; "" = by anyone.
    changed_by = models.CharField(max_length=128, blank=True)
    # Also delete comments, worklogs, attachments, links and remote links added after the snapshot.
    remove_added = models.BooleanField(default=False)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.QUEUED)
    # {"planned": bool, "page_token": str}: where planning stopped (items hold the rest).
    checkpoint = models.JSONField(default=dict, blank=True)
    counters = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    run_id = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["site"],
                condition=Q(status__in=ROLLBACK_ACTIVE_STATUSES, dry_run=False),
                name="rollbackjob_one_active_per_site",
                violation_error_message="A roll-back of this site is already running: wait for it or cancel it.",
            ),
            models.CheckConstraint(
                condition=Q(scope__in=["issues", "projects", "jql", "changed"]),
                name="rollbackjob_scope_valid",
                violation_error_message="Not a roll-back scope: choose issues, projects, JQL or a time window.",
            ),
        ]
        indexes = [models.Index(fields=["status", "lease_expires_at"], name="rollbackjob_lease")]

    def __str__(self) -> str:
        kind = "roll-back dry run" if self.dry_run else "roll-back"
        return f"{kind} #{self.pk} of site {self.site_id} to snapshot {self.snapshot_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ROLLBACK_ACTIVE_STATUSES


class RollbackItem(models.Model):
    """One issue of a roll-back: its diff, and what was written."""

    class State(models.TextChoices):
        PLANNED = "planned", "Differences to write"
        SAME = "same", "Already as in the snapshot"
        WRITING = "writing", "Writes sent, not all recorded"
        DONE = "done", "Rolled back"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(RollbackJob, on_delete=models.CASCADE, related_name="items")
    issue_id = models.CharField(max_length=64)
    issue_key = models.CharField(max_length=255)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PLANNED)
    # The fields this roll-back may write (a window: those changed in it, not after it).
    considered = models.JSONField(default=list, blank=True)
    # {"fields": [{"field", "name", "now", "snapshot"}], "status": {...}|None, "add": {...},
    #  "remove": {...}, "kept": [...] } — see backups.rollback.diff.
    diff = models.JSONField(default=dict, blank=True)
    written = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "issue_id"],
                name="rollbackitem_one_per_issue",
                violation_error_message="This issue is already part of the roll-back.",
            ),
        ]
        indexes = [models.Index(fields=["job", "state"], name="rollbackitem_job_state")]

    def __str__(self) -> str:
        return f"{self.issue_key} ({self.state})"
