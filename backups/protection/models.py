"""Protection rows: a tenant's policy override, each site's stored protection state, incidents,
and the bookkeeping of incremental pruning (object reference counts and each site's cursor).

Imported by ``backups.models`` so Django finds them in the ``backups`` app."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ProtectionPolicy(models.Model):
    """A tenant's override of the vendor default (``PROTECTION_*`` settings). A blank field
    means "the vendor default"; ``backups.protection.policy.policy_for`` merges the two."""

    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="protection_policy"
    )
    interval_hours = models.PositiveIntegerField(null=True, blank=True)
    # Preferred start window, whole minutes after midnight UTC ([start, end); end < start wraps).
    window_start_minute = models.PositiveIntegerField(null=True, blank=True)
    window_end_minute = models.PositiveIntegerField(null=True, blank=True)
    keep_last = models.PositiveIntegerField(null=True, blank=True)
    keep_daily = models.PositiveIntegerField(null=True, blank=True)
    keep_weekly = models.PositiveIntegerField(null=True, blank=True)
    keep_monthly = models.PositiveIntegerField(null=True, blank=True)
    max_age_days = models.PositiveIntegerField(null=True, blank=True)
    notify_admins = models.BooleanField(null=True, blank=True)
    # Addresses told besides (or instead of) the owners and admins.
    notify_emails = models.JSONField(default=list, blank=True)
    weekly_report = models.BooleanField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "protection policy"
        verbose_name_plural = "protection policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(interval_hours__isnull=True) | Q(interval_hours__gte=1),
                name="protectionpolicy_interval_positive",
                violation_error_message="The backup interval must be at least one hour.",
            ),
            models.CheckConstraint(
                condition=Q(keep_last__isnull=True) | Q(keep_last__gte=1),
                name="protectionpolicy_keeps_one",
                violation_error_message="Retention must keep at least the newest snapshot.",
            ),
            models.CheckConstraint(
                condition=(Q(window_start_minute__isnull=True) & Q(window_end_minute__isnull=True))
                | (Q(window_start_minute__lt=1440) & Q(window_end_minute__lt=1440)),
                name="protectionpolicy_window_valid",
                violation_error_message="The preferred window's hours must be between 0 and 23.",
            ),
        ]

    def __str__(self) -> str:
        return f"protection policy of tenant {self.tenant_id}"


class SiteProtection(models.Model):
    """A site's protection state as ``backups.protection.state`` last computed it, and the job
    outcome it was computed from. One row per site; the pages and commands count and list these
    rows (an index on ``state``), so a figure never joins sites, schedules and jobs."""

    class State(models.TextChoices):
        # A row made before its state was computed (the same transaction computes it).
        PENDING = "pending", "Not computed yet"
        PROTECTED = "protected", "Protected"
        OVERDUE = "overdue", "Overdue"
        FAILING = "failing", "Failing"
        PAUSED = "paused", "Paused"
        UNPROTECTED = "unprotected", "Unprotected"
        DISCONNECTED = "disconnected", "Disconnected"
        # An offboarded site: no longer counted anywhere.
        RETIRED = "retired", "Retired"

    class Outcome(models.TextChoices):
        NONE = "", "No job yet"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        PERMISSION = "permission", "Failed: permission missing"
        PAUSED = "paused", "Paused: needs re-authorization"

    site = models.OneToOneField(
        "tenants.JiraSite", on_delete=models.CASCADE, related_name="protection"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # Why, in a word: reauth | legacy_cutoff | permission (paused), no_schedule | disabled
    # (unprotected), never_backed_up (overdue), "" otherwise.
    detail = models.CharField(max_length=32, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    # The newest job outcome seen (``backups.protection.outcomes``).
    last_outcome = models.CharField(
        max_length=16, choices=Outcome.choices, default=Outcome.NONE, blank=True
    )
    last_outcome_at = models.DateTimeField(null=True, blank=True)
    last_outcome_reason = models.CharField(max_length=500, blank=True)
    # A site given a schedule but not yet backed up is overdue only from this moment on.
    first_due_at = models.DateTimeField(null=True, blank=True)
    policy_applied_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "site protection"
        indexes = [models.Index(fields=["state", "site"], name="siteprotection_state")]

    def __str__(self) -> str:
        return f"site {self.site_id} is {self.state}"


class ProtectionTally(models.Model):
    """How many sites are in each state, kept with every change of ``SiteProtection.state`` (in
    the same transaction: ``state.states_refresh``) and recounted by beat's sweep, so the
    figures by state are a read of six rows whatever the number of sites."""

    state = models.CharField(max_length=16, unique=True)
    sites = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.sites} {self.state}"


class ProtectionCursor(models.Model):
    """How far the outcome pass has read the job rows (one row, ``name="outcomes"``)."""

    name = models.CharField(max_length=32, unique=True)
    until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} until {self.until}"


class Incident(models.Model):
    """A site that is not protected, from when it was noticed until it recovered.

    At most one open protection incident (failing, overdue, paused) per site and one open
    verification incident per site: the database holds it."""

    class Kind(models.TextChoices):
        FAILING = "failing", "Backups failing"
        OVERDUE = "overdue", "Backup overdue"
        PAUSED = "paused", "Backups paused"
        VERIFICATION = "verification", "Verification failed"
        KEY = "key", "Customer key unavailable"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    PROTECTION_KINDS = ("failing", "overdue", "paused")

    site = models.ForeignKey("tenants.JiraSite", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    detail = models.CharField(max_length=32, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # When the customer was told (None: not told, e.g. another notice went out that day).
    notified_at = models.DateTimeField(null=True, blank=True)
    recovery_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["site"],
                condition=Q(status="open", kind__in=["failing", "overdue", "paused"]),
                name="incident_one_open_protection_per_site",
                violation_error_message="This site already has an open protection incident.",
            ),
            models.UniqueConstraint(
                fields=["site"],
                condition=Q(status="open", kind="verification"),
                name="incident_one_open_verification_per_site",
                violation_error_message="This site already has an open verification incident.",
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | Q(status="closed", closed_at__isnull=False),
                name="incident_closed_has_time",
                violation_error_message="A closed incident needs the time it closed.",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-opened_at"], name="incident_status_opened"),
            models.Index(fields=["site", "-opened_at"], name="incident_site_opened"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at site {self.site_id} ({self.status})"


class StoredObjectRef(models.Model):
    """How many complete snapshots of a site name an object (``backups.retention``): counted up
    when a snapshot is first seen by pruning, down when it is pruned; an object at zero that no
    running job may use is deleted. So a prune reads the manifests that changed, not all."""

    site = models.ForeignKey("tenants.JiraSite", on_delete=models.CASCADE, related_name="+")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    refs = models.IntegerField(default=0)
    # When refs last reached zero (None while referenced).
    unreferenced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "sha256"],
                name="storedobjectref_unique",
                violation_error_message="This object is already counted for the site.",
            ),
        ]
        indexes = [
            models.Index(fields=["site"], name="storedobjectref_garbage", condition=Q(refs__lte=0)),
        ]

    def __str__(self) -> str:
        return f"{self.sha256[:12]} x{self.refs}"


class PruneCursor(models.Model):
    """Per site: when it was last pruned, and whether its reference counts were built (which
    snapshots are counted: ``Snapshot.refs_counted``; their references: ``StoredObjectRef``)."""

    site = models.OneToOneField("tenants.JiraSite", on_delete=models.CASCADE, related_name="+")
    pruned_at = models.DateTimeField(null=True, blank=True)
    # False until the first full pass built the counts (and collected what no manifest names).
    counts_built = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["pruned_at"], name="prunecursor_due")]

    def __str__(self) -> str:
        return f"site {self.site_id} pruned {self.pruned_at}"
