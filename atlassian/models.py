"""What we remember about our own traffic to Atlassian: the call ledger, and rate-limit state
shared by every worker when Redis is not configured."""

from __future__ import annotations

from django.db import models


class CredentialKind(models.TextChoices):
    VENDOR_GRANT = "vendor_grant", "Vendor 3LO grant"
    LEGACY_API_TOKEN = "legacy_api_token", "Legacy API token"
    LEGACY_CUSTOMER_APP = "legacy_customer_app", "Legacy customer-owned OAuth app"
    NONE = "none", "No credential"


class CallStat(models.Model):
    """Outbound requests per UTC hour x site x pool x credential kind x endpoint family x
    status class. Written in batches by ``atlassian.ledger``; one row per key, incremented."""

    hour = models.DateTimeField(help_text="Start of the UTC hour.")
    site_cloud_id = models.CharField(
        max_length=64, blank=True, default="", help_text="Empty for auth-server calls."
    )
    pool = models.CharField(
        max_length=100, blank=True, default="", help_text="Points pool; empty when none."
    )
    credential_kind = models.CharField(max_length=32, choices=CredentialKind.choices)
    endpoint_family = models.CharField(max_length=100)
    status_class = models.CharField(max_length=8)
    requests = models.BigIntegerField(default=0)
    points = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "hour",
                    "site_cloud_id",
                    "pool",
                    "credential_kind",
                    "endpoint_family",
                    "status_class",
                ],
                name="atlassian_callstat_key",
                violation_error_message="These calls are already counted for this hour.",
            )
        ]
        indexes = [
            models.Index(fields=["hour"], name="atlassian_callstat_hour"),
            models.Index(fields=["credential_kind", "hour"], name="atlassian_callstat_kind"),
        ]
        verbose_name = "outbound call statistic"
        # The compliance report (ops.compliance) reads this table and the tenants' ones;
        # staff need this permission (the Security admin role has it) to open its admin page.
        permissions = [("view_compliance_report", "Can view the compliance report")]

    def __str__(self) -> str:
        return (
            f"{self.hour:%Y-%m-%d %H}:00 {self.site_cloud_id or '-'} {self.credential_kind} "
            f"{self.endpoint_family} {self.status_class}: {self.requests} requests"
        )


class RateLimitHold(models.Model):
    """ "Nothing on ``key`` before ``not_before``": a paused pool, a slowed endpoint of a site,
    or an issue that takes no writes yet. Only used when REDIS_URL is empty."""

    key = models.CharField(max_length=255, unique=True)
    not_before = models.FloatField(help_text="Epoch seconds.")
    reason = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key} until {self.not_before:.0f} ({self.reason})"


class PointsUsage(models.Model):
    """Points per pool per UTC hour: ``reserved`` by the scheduler's admission control,
    ``spent`` as counted by the client. Only used when REDIS_URL is empty."""

    pool = models.CharField(max_length=100)
    hour = models.DateTimeField()
    reserved = models.BigIntegerField(default=0)
    spent = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pool", "hour"],
                name="atlassian_pointsusage_key",
                violation_error_message="This pool's points are already counted for this hour.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.pool} {self.hour:%Y-%m-%d %H}:00 reserved={self.reserved} spent={self.spent}"


class PoolQuota(models.Model):
    """A site on Atlassian's Tier 2: its own hourly points pool (``tenant:<cloud id>``) instead
    of the app's global pool. Set by staff from the site's plan and user count (Atlassian's
    formula, ``atlassian.pools.tier2_quota``) or learned from the ``RateLimit-Policy`` /
    ``Beta-RateLimit-Policy`` headers (``"tenant-app-quota";q=…;w=3600``). No row: Tier 1."""

    class Plan(models.TextChoices):
        FREE = "free", "Free"
        STANDARD = "standard", "Standard"
        PREMIUM = "premium", "Premium"
        ENTERPRISE = "enterprise", "Enterprise"

    class Source(models.TextChoices):
        ADMIN = "admin", "Set by staff (plan and users)"
        HEADER = "header", "Learned from Atlassian's RateLimit-Policy header"
        BETA_HEADER = "beta_header", "Learned from Atlassian's Beta-RateLimit-Policy header"

    cloud_id = models.CharField(max_length=64, unique=True)
    plan = models.CharField(max_length=16, choices=Plan.choices, blank=True)
    users = models.PositiveIntegerField(default=0)
    points_per_hour = models.PositiveIntegerField()
    source = models.CharField(max_length=16, choices=Source.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Tier 2 pool"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(points_per_hour__gte=1),
                name="atlassian_poolquota_positive",
                violation_error_message="A pool has at least one point an hour.",
            )
        ]

    def __str__(self) -> str:
        return f"Tier 2 pool of {self.cloud_id}: {self.points_per_hour:,} points/hour"
