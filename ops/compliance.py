""" "Are we compliant?" answered from data: the vendor's 3LO app is the only way into our
customers' Jira sites.

``build_compliance_report(since=..., now=...)`` is the one implementation behind
``manage.py compliance_report`` and the admin page (``/admin/atlassian/callstat/compliance/``).
Each line states its goal, the figure measured, whether the goal holds, and the evidence rows
behind the figure (with admin links to act on them). Lines whose goal is violated make the
report fail (the command exits 1); "attention" deviations are listed but do not fail it.

Sources: the outbound call ledger (``atlassian.CallStat``: every request the one Atlassian
client sent, per hour x site x credential kind x endpoint family x status class) for calls
and points, and the tenants' tables for stored secrets and which credential each site uses.
The ledger counts in whole UTC hours, so "since the cutoff" starts with the hour that contains
``LEGACY_CUTOFF`` (with the default, midnight, that is exact).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from atlassian import selectors
from atlassian.client import LEGACY_KINDS, user_agent
from atlassian.models import CredentialKind
from atlassian.ratelimit import hour_start
from atlassian.services import retention_days
from tenants.models import JiraSite, LegacyCredential, OAuthGrant

VIOLATION = "violation"
ATTENTION = "attention"

LIVE_SITE_STATUSES = (JiraSite.Status.ACTIVE, JiraSite.Status.NEEDS_REAUTH)


@dataclass(frozen=True)
class Deviation:
    """One thing to act on, by tenant, with the admin page where to act."""

    line: str
    severity: str  # VIOLATION (fails the report) or ATTENTION
    tenant_id: int | None
    tenant: str
    subject: str
    message: str
    url: str  # admin change page of the tenant / site / credential


@dataclass(frozen=True)
class Line:
    """One line of the report: a goal, the figure, and the rows that prove the figure."""

    key: str
    title: str
    goal: str
    figure: int
    ok: bool | None  # None: informational, no goal
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    evidence_url: str = ""
    note: str = ""

    @property
    def status(self) -> str:
        if self.ok is None:
            return "info"
        return "ok" if self.ok else "VIOLATED"


@dataclass(frozen=True)
class ComplianceReport:
    generated_at: datetime
    since: datetime
    cutoff: datetime
    cutoff_passed: bool
    user_agent: str
    # Stored legacy secrets per tenant x kind: [{"tenant_id", "tenant", "kind", "count",
    # "tenant_migrated", "credentials"}].
    legacy_secrets: list[dict[str, Any]]
    # Legacy-credential requests from the cutoff hour on (goal: none), per site x kind x
    # family x status class; and before it, per week x kind (the decline curve).
    legacy_calls_after_cutoff: list[dict[str, Any]]
    legacy_calls_per_week: list[dict[str, Any]]
    # Requests per credential kind in [since, now] (every call the portal made).
    calls_per_kind: dict[str, int]
    # Live sites (active / needs_reauth) and the credential each uses.
    sites: list[dict[str, Any]]
    # Vendor-app points per hour per pool against the pool's quota.
    vendor_hours: list[dict[str, Any]]
    # Customer-owned OAuth apps still referenced by a site (goal: none).
    customer_apps: list[dict[str, Any]]
    lines: list[Line] = field(default_factory=list)
    deviations: list[Deviation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(line.ok is not False for line in self.lines)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def violations(self) -> list[Deviation]:
        return [d for d in self.deviations if d.severity == VIOLATION]

    def line(self, key: str) -> Line:
        return next(line for line in self.lines if line.key == key)

    @property
    def legacy_secrets_total(self) -> int:
        return sum(row["count"] for row in self.legacy_secrets)

    @property
    def legacy_calls_after_cutoff_total(self) -> int:
        return sum(row["requests"] for row in self.legacy_calls_after_cutoff)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON (datetimes as ISO-8601 strings)."""
        data = asdict(self)
        data["ok"] = self.ok
        for line, raw in zip(self.lines, data["lines"], strict=True):
            raw["status"] = line.status
        return _jsonable(data)


def parse_since(value: str) -> datetime:
    """``2026-01-01`` (midnight UTC) or an ISO-8601 date-time (UTC when no zone is given);
    ``ValueError`` with a readable message otherwise."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO-8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def default_since(now: datetime) -> datetime:
    """The whole retention window of the ledger."""
    return now - timedelta(days=retention_days())


def build_compliance_report(
    *, since: datetime | None = None, now: datetime | None = None
) -> ComplianceReport:
    """The compliance report for [since, now]; ``since`` defaults to the ledger's retention
    window (``ATLASSIAN_LEDGER_RETENTION_DAYS``), ``now`` to the current time."""
    now = now or timezone.now()
    since = since or default_since(now)
    if since > now:
        raise ValueError("since must not be after now")
    cutoff = settings.LEGACY_CUTOFF
    cutoff_passed = now >= cutoff
    until = hour_start(now) + timedelta(hours=1)  # the current hour is still being counted
    cutoff_hour = hour_start(cutoff)
    after_start = max(cutoff_hour, hour_start(since))

    sites_by_ref = _SiteIndex()
    secrets = _legacy_secrets()
    calls_after = (
        selectors.legacy_calls(since=after_start, until=until) if after_start < until else []
    )
    weeks = (
        selectors.legacy_calls_per_week(since=since, until=cutoff_hour)
        if since < cutoff_hour
        else []
    )
    sites = _live_sites()
    vendor_hours = selectors.points_per_hour_against_quota(
        since=hour_start(since), until=until, credential_kinds=[CredentialKind.VENDOR_GRANT]
    )
    customer_apps = _customer_apps()

    report = ComplianceReport(
        generated_at=now,
        since=since,
        cutoff=cutoff,
        cutoff_passed=cutoff_passed,
        user_agent=user_agent(),
        legacy_secrets=secrets,
        legacy_calls_after_cutoff=calls_after,
        legacy_calls_per_week=weeks,
        calls_per_kind=selectors.calls_per_credential_kind(since=hour_start(since), until=until),
        sites=sites,
        vendor_hours=vendor_hours,
        customer_apps=customer_apps,
    )
    deviations: list[Deviation] = []
    report.lines.extend(
        [
            _secrets_line(report, deviations),
            _calls_after_line(report, deviations, sites_by_ref, after_start, until),
            _decline_line(report, since, cutoff_hour),
            _calls_per_kind_line(report, since, until),
            _sites_line(report, deviations),
            _quota_line(report, deviations, since, until),
            _customer_apps_line(report, deviations),
            _residency_line(),
        ]
    )
    deviations.sort(key=lambda d: (d.severity != VIOLATION, d.tenant, d.line, d.subject))
    report.deviations.extend(deviations)
    return report


# -- reads ---------------------------------------------------------------------------------


def _secret_held() -> Q:
    return (
        Q(api_token_ciphertext__isnull=False)
        | Q(client_secret_ciphertext__isnull=False)
        | Q(access_token_ciphertext__isnull=False)
        | Q(refresh_token_ciphertext__isnull=False)
    )


def _legacy_secrets() -> list[dict[str, Any]]:

    live_legacy_site = JiraSite.objects.filter(
        tenant=OuterRef("tenant"),
        legacy_credential__isnull=False,
        status__in=LIVE_SITE_STATUSES,
    )
    credentials = (
        LegacyCredential.objects.filter(_secret_held())
        .select_related("tenant")
        .annotate(tenant_on_legacy=Exists(live_legacy_site))
        .order_by("tenant__name", "kind", "created_at")
    )
    grouped: dict[tuple[int, str], dict[str, Any]] = {}
    for credential in credentials:
        key = (credential.tenant_id, credential.kind)
        entry = grouped.setdefault(
            key,
            {
                "tenant_id": credential.tenant_id,
                "tenant": credential.tenant.name,
                "kind": credential.kind,
                "count": 0,
                # Migrated: no live site of the tenant uses a legacy credential any more.
                "tenant_migrated": not credential.tenant_on_legacy,
                "credentials": [],
            },
        )
        entry["count"] += 1
        entry["credentials"].append(
            {
                "id": str(credential.pk),
                "status": credential.status,
                "site_url": credential.site_url,
                "url": _admin_change("tenants", "legacycredential", credential.pk),
            }
        )
    return list(grouped.values())


def _credential_of(site) -> str:
    if site.grant_id:
        return (
            CredentialKind.VENDOR_GRANT if site.grant.status == OAuthGrant.Status.ACTIVE else "none"
        )
    if site.legacy_credential_id:
        if site.legacy_credential.kind == LegacyCredential.Kind.CUSTOMER_APP:
            return CredentialKind.LEGACY_CUSTOMER_APP
        return CredentialKind.LEGACY_API_TOKEN
    return CredentialKind.NONE


def _live_sites() -> list[dict[str, Any]]:

    rows = []
    sites = (
        JiraSite.objects.filter(status__in=LIVE_SITE_STATUSES)
        .select_related("tenant", "grant", "legacy_credential")
        .order_by("tenant__name", "url")
    )
    for site in sites:
        credential = str(_credential_of(site))
        reason = site.status_reason
        if site.grant_id and site.grant.status != OAuthGrant.Status.ACTIVE:
            reason = reason or site.grant.status_reason or f"the grant is {site.grant.status}"
        rows.append(
            {
                "tenant_id": site.tenant_id,
                "tenant": site.tenant.name,
                "site_id": site.pk,
                "site": site.url,
                "cloud_id": site.cloud_id,
                "status": site.status,
                "credential": credential,
                "needs_reauth": site.status == JiraSite.Status.NEEDS_REAUTH or credential == "none",
                "reason": reason,
                "url": _admin_change("tenants", "jirasite", site.pk),
            }
        )
    return rows


def _customer_apps() -> list[dict[str, Any]]:

    rows = []
    referenced = (
        LegacyCredential.objects.filter(kind=LegacyCredential.Kind.CUSTOMER_APP)
        .filter(
            Exists(
                JiraSite.objects.filter(legacy_credential=OuterRef("pk")).exclude(
                    status=JiraSite.Status.OFFBOARDED
                )
            )
        )
        .select_related("tenant")
        .prefetch_related("sites")
        .order_by("tenant__name", "created_at")
    )
    for credential in referenced:
        sites = [s for s in credential.sites.all() if s.status != JiraSite.Status.OFFBOARDED]
        rows.append(
            {
                "tenant_id": credential.tenant_id,
                "tenant": credential.tenant.name,
                "credential_id": str(credential.pk),
                "client_id": credential.client_id,
                "status": credential.status,
                "sites": [s.url for s in sites],
                "url": _admin_change("tenants", "legacycredential", credential.pk),
                "site_urls": [_admin_change("tenants", "jirasite", s.pk) for s in sites],
            }
        )
    return rows


class _SiteIndex:
    """Ledger rows name a site by cloud id (or, for a legacy client without one, by host)."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def find(self, ref: str):

        if not ref:
            return None
        if ref not in self._cache:
            site = JiraSite.objects.select_related("tenant").filter(cloud_id=ref).first()
            if site is None:
                for candidate in JiraSite.objects.select_related("tenant").filter(
                    url__icontains=ref
                ):
                    if (urlsplit(candidate.url).hostname or "") == ref:
                        site = candidate
                        break
            self._cache[ref] = site
        return self._cache[ref]


# -- lines ---------------------------------------------------------------------------------


def _secrets_line(report: ComplianceReport, deviations: list[Deviation]) -> Line:
    bad = 0
    for row in report.legacy_secrets:
        violated = report.cutoff_passed or row["tenant_migrated"]
        if not violated:
            continue
        bad += row["count"]
        why = "the cutoff has passed" if report.cutoff_passed else "the tenant has migrated"
        for credential in row["credentials"]:
            deviations.append(
                Deviation(
                    line="legacy_secrets",
                    severity=VIOLATION,
                    tenant_id=row["tenant_id"],
                    tenant=row["tenant"],
                    subject=credential["site_url"] or credential["id"],
                    message=f"a {row['kind']} secret is still stored ({why}): purge it",
                    url=credential["url"],
                )
            )
    total = report.legacy_secrets_total
    return Line(
        key="legacy_secrets",
        title="Stored legacy secrets (per tenant and kind)",
        goal="zero for migrated tenants; zero in total after the cutoff",
        figure=total,
        ok=bad == 0,
        columns=("tenant", "kind", "count", "tenant_migrated"),
        rows=[
            {k: row[k] for k in ("tenant", "kind", "count", "tenant_migrated")}
            for row in report.legacy_secrets
        ],
        evidence_url=_changelist("tenants", "legacycredential", status__in="active,migrated"),
        note=f"{bad} of {total} violate the goal",
    )


def _calls_after_line(
    report: ComplianceReport,
    deviations: list[Deviation],
    sites: _SiteIndex,
    start: datetime,
    until: datetime,
) -> Line:
    rows = []
    for row in report.legacy_calls_after_cutoff:
        site = sites.find(row["site_cloud_id"])
        rows.append(
            {
                "tenant": site.tenant.name if site else "",
                "site": site.url if site else row["site_cloud_id"],
                "credential_kind": row["credential_kind"],
                "endpoint_family": row["endpoint_family"],
                "status_class": row["status_class"],
                "requests": row["requests"],
                "first_hour": row["first_hour"],
                "last_hour": row["last_hour"],
            }
        )
        deviations.append(
            Deviation(
                line="legacy_calls_after_cutoff",
                severity=VIOLATION,
                tenant_id=site.tenant_id if site else None,
                tenant=site.tenant.name if site else "(unknown site)",
                subject=site.url if site else row["site_cloud_id"],
                message=(
                    f"{row['requests']} {row['credential_kind']} requests to "
                    f"{row['endpoint_family']} ({row['status_class']}) after the cutoff"
                ),
                url=_admin_change("tenants", "jirasite", site.pk) if site else "",
            )
        )
    total = report.legacy_calls_after_cutoff_total
    return Line(
        key="legacy_calls_after_cutoff",
        title="Legacy-credential calls since the cutoff",
        goal="zero",
        figure=total,
        ok=total == 0,
        columns=(
            "tenant",
            "site",
            "credential_kind",
            "endpoint_family",
            "status_class",
            "requests",
            "first_hour",
            "last_hour",
        ),
        rows=rows,
        evidence_url=_changelist(
            "atlassian",
            "callstat",
            credential_kind__in=",".join(sorted(str(k) for k in LEGACY_KINDS)),
            hour__gte=start.isoformat(),
            hour__lt=until.isoformat(),
        ),
        note=f"counted from {start.isoformat()}",
    )


def _decline_line(report: ComplianceReport, since: datetime, cutoff_hour: datetime) -> Line:
    by_week: dict[datetime, dict[str, int]] = defaultdict(dict)
    for row in report.legacy_calls_per_week:
        by_week[row["week"]][row["credential_kind"]] = row["requests"]
    rows = [
        {
            "week": week,
            "legacy_api_token": kinds.get(CredentialKind.LEGACY_API_TOKEN, 0),
            "legacy_customer_app": kinds.get(CredentialKind.LEGACY_CUSTOMER_APP, 0),
            "requests": sum(kinds.values()),
        }
        for week, kinds in sorted(by_week.items())
    ]
    return Line(
        key="legacy_calls_before_cutoff",
        title="Legacy-credential calls before the cutoff, per week (the decline curve)",
        goal="",
        figure=sum(r["requests"] for r in rows),
        ok=None,
        columns=("week", "legacy_api_token", "legacy_customer_app", "requests"),
        rows=rows,
        evidence_url=_changelist(
            "atlassian",
            "callstat",
            credential_kind__in=",".join(sorted(str(k) for k in LEGACY_KINDS)),
            hour__gte=since.isoformat(),
            hour__lt=cutoff_hour.isoformat(),
        ),
    )


def _calls_per_kind_line(report: ComplianceReport, since: datetime, until: datetime) -> Line:
    rows = [
        {"credential_kind": kind, "requests": report.calls_per_kind.get(kind, 0)}
        for kind in CredentialKind.values
    ]
    return Line(
        key="calls_per_kind",
        title="Every call to Atlassian in the window, per credential kind",
        goal="",
        figure=sum(report.calls_per_kind.values()),
        ok=None,
        columns=("credential_kind", "requests"),
        rows=rows,
        evidence_url=_changelist(
            "atlassian", "callstat", hour__gte=since.isoformat(), hour__lt=until.isoformat()
        ),
        note=f"User-Agent: {report.user_agent}",
    )


def _sites_line(report: ComplianceReport, deviations: list[Deviation]) -> Line:
    counts: dict[str, int] = defaultdict(int)
    for site in report.sites:
        counts[site["credential"]] += 1
        if site["needs_reauth"]:
            deviations.append(
                Deviation(
                    line="sites",
                    severity=ATTENTION,
                    tenant_id=site["tenant_id"],
                    tenant=site["tenant"],
                    subject=site["site"],
                    message=(
                        "no usable credential (needs re-authorization): "
                        f"{site['reason'] or 'no reason recorded'}"
                    ),
                    url=site["url"],
                )
            )
        elif site["credential"] in LEGACY_KINDS:
            when = "after the cutoff: refused" if report.cutoff_passed else "before the cutoff"
            deviations.append(
                Deviation(
                    line="sites",
                    severity=ATTENTION,
                    tenant_id=site["tenant_id"],
                    tenant=site["tenant"],
                    subject=site["site"],
                    message=f"still on a {site['credential']} credential ({when}): migrate it",
                    url=site["url"],
                )
            )
    summary = ", ".join(f"{kind} {counts[kind]}" for kind in sorted(counts)) or "none"
    return Line(
        key="sites",
        title="Live sites and the credential each uses",
        goal="",
        figure=len(report.sites),
        ok=None,
        columns=("tenant", "site", "status", "credential", "reason"),
        rows=[
            {k: s[k] for k in ("tenant", "site", "status", "credential", "reason")}
            for s in report.sites
        ],
        evidence_url=_changelist("tenants", "jirasite", status__in=",".join(LIVE_SITE_STATUSES)),
        note=(
            f"{summary}; "
            f"{sum(1 for s in report.sites if s['needs_reauth'])} on no credential (needs_reauth)"
        ),
    )


def _quota_line(
    report: ComplianceReport, deviations: list[Deviation], since: datetime, until: datetime
) -> Line:
    over = [row for row in report.vendor_hours if row["over"]]
    for row in over:
        deviations.append(
            Deviation(
                line="vendor_quota",
                severity=ATTENTION,
                tenant_id=None,
                tenant="(all tenants)",
                subject=f"{row['pool']} {row['hour']:%Y-%m-%d %H}:00",
                message=f"{row['points']} points against a quota of {row['quota']}",
                url=_changelist(
                    "atlassian",
                    "callstat",
                    pool=row["pool"],
                    hour__gte=row["hour"].isoformat(),
                    hour__lt=(row["hour"] + timedelta(hours=1)).isoformat(),
                ),
            )
        )
    peak = max(report.vendor_hours, key=lambda r: r["points"], default=None)
    note = "no vendor-app traffic in the window"
    if peak is not None:
        note = (
            f"peak {peak['points']} points ({peak['percent']} % of {peak['quota']}) in pool "
            f"{peak['pool']} at {peak['hour']:%Y-%m-%d %H}:00 UTC; {len(over)} hours over quota"
        )
    return Line(
        key="vendor_quota",
        title="Vendor-app calls per hour against the points quota",
        goal="",
        figure=len(report.vendor_hours),
        ok=None,
        columns=("hour", "pool", "requests", "points", "quota", "percent"),
        rows=[
            {k: r[k] for k in ("hour", "pool", "requests", "points", "quota", "percent")}
            for r in report.vendor_hours
        ],
        evidence_url=_changelist(
            "atlassian",
            "callstat",
            credential_kind=CredentialKind.VENDOR_GRANT,
            hour__gte=since.isoformat(),
            hour__lt=until.isoformat(),
        ),
        note=note,
    )


def _customer_apps_line(report: ComplianceReport, deviations: list[Deviation]) -> Line:
    for row in report.customer_apps:
        deviations.append(
            Deviation(
                line="customer_apps",
                severity=VIOLATION,
                tenant_id=row["tenant_id"],
                tenant=row["tenant"],
                subject=", ".join(row["sites"]),
                message=f"the customer's own OAuth app {row['client_id']} is still in use",
                url=row["url"],
            )
        )
    return Line(
        key="customer_apps",
        title="Per-customer 3LO apps still referenced",
        goal="zero",
        figure=len(report.customer_apps),
        ok=not report.customer_apps,
        columns=("tenant", "client_id", "status", "sites"),
        rows=[
            {**{k: r[k] for k in ("tenant", "client_id", "status")}, "sites": ", ".join(r["sites"])}
            for r in report.customer_apps
        ],
        evidence_url=_changelist(
            "tenants", "legacycredential", kind__exact=LegacyCredential.Kind.CUSTOMER_APP
        ),
    )


def _residency_line() -> Line:
    """Where each tenant's backups live (issue 22): its storage location, whether they are
    sealed with its own key, legal holds, and an offboarded tenant's erasure."""
    from backups.models import TenantErasure
    from backups.snapshots.sealing import tenant_scope
    from tenants.models import DataKey, LegalHold, Tenant

    locations = getattr(settings, "STORAGE_LOCATIONS", {}) or {}
    keyed = set(
        DataKey.objects.filter(scope__startswith="snapshots/tenant-", state="active").values_list(
            "scope", flat=True
        )
    )
    held = set(
        LegalHold.objects.filter(released_at__isnull=True).values_list("tenant_id", flat=True)
    ) | set(
        LegalHold.objects.filter(released_at__isnull=True).values_list("site__tenant_id", flat=True)
    )
    erasures = dict(TenantErasure.objects.values_list("tenant_id", "status"))
    rows = []
    for tenant in Tenant.objects.order_by("name").annotate(n_sites=Count("sites")):
        location = tenant.storage_location or "default"
        rows.append(
            {
                "tenant": tenant.name,
                "storage_location": location,
                "storage": locations.get(tenant.storage_location, "default"),
                "sites": tenant.n_sites,
                "sealed_with_own_key": tenant_scope(tenant.pk) in keyed,
                "legal_hold": tenant.pk in held,
                "erasure": erasures.get(tenant.pk, ""),
            }
        )
    return Line(
        key="data_residency",
        title="Where each tenant's backups live",
        goal="",
        figure=len(rows),
        ok=None,
        columns=(
            "tenant",
            "storage_location",
            "storage",
            "sites",
            "sealed_with_own_key",
            "legal_hold",
            "erasure",
        ),
        rows=rows,
        evidence_url=_changelist("tenants", "tenant"),
        note="every object of a tenant's backups is stored in its location only",
    )


# -- helpers -------------------------------------------------------------------------------


def _admin_change(app: str, model: str, pk: object) -> str:
    return reverse(f"admin:{app}_{model}_change", args=[pk])


def _changelist(app: str, model: str, **params: object) -> str:
    url = reverse(f"admin:{app}_{model}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


__all__ = [
    "ATTENTION",
    "VIOLATION",
    "ComplianceReport",
    "Deviation",
    "Line",
    "build_compliance_report",
    "default_since",
    "parse_since",
]
