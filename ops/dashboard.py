"""Reads behind the operations dashboard. Every figure comes with the admin changelist URL that
lists exactly the rows it counts, and each figure is one aggregate query (the number of queries
does not grow with the number of rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from atlassian.models import CallStat
from atlassian.ratelimit import GLOBAL_POOL, default_pool_limit
from atlassian.selectors import points_per_hour_per_pool
from backups import services
from backups.models import BackupJob, BackupSchedule, Incident, SiteProtection
from backups.protection.incidents import open_incidents
from backups.protection.state import STATES, protection_counts
from ops import quota
from tenants.models import JiraSite, MigrationCase, OAuthGrant
from tenants.selectors import legacy_sites_past_due, sites_needing_reconsent

OPEN_INCIDENTS_LISTED = 20
# A site is overdue when its newest snapshot is older than this many schedule intervals (the
# schedule's ``overdue_at`` is kept with the same number).
OVERDUE_INTERVALS = services.OVERDUE_INTERVALS
POOLS_CHARTED = 6
CACHE_KEY = "ops.dashboard"


@dataclass
class Figure:
    label: str
    count: int
    url: str
    width: int = 0  # percent, for the bar charts


def changelist(model, **params) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def overdue_schedules(*, now: datetime | None = None) -> QuerySet[BackupSchedule]:
    """The schedules the dashboard counts as overdue (``quota.plan_and_overdue``): enabled, of
    an active site (the schedule's copy of its status), and ``overdue_at`` past or NULL (never
    backed up). The service keeps ``overdue_at`` = newest complete snapshot + ``OVERDUE_INTERVALS``
    intervals, so no snapshot is read: two ranges of the partial index ``backupschedule_overdue``
    (the predicate repeats its condition)."""
    now = now or timezone.now()
    return BackupSchedule.objects.filter(enabled=True, site_status=JiraSite.Status.ACTIVE).filter(
        Q(overdue_at__lt=now) | Q(overdue_at__isnull=True)
    )


def backup_overdue_sites(*, now: datetime | None = None) -> QuerySet[JiraSite]:
    """Active sites with an enabled schedule and no complete snapshot within
    ``OVERDUE_INTERVALS`` of their interval (never backed up included): exactly the sites the
    dashboard's overdue figure counts."""
    return JiraSite.objects.filter(pk__in=overdue_schedules(now=now).values("site_id"))


def failed_jobs_since(since: datetime) -> QuerySet[BackupJob]:
    return BackupJob.objects.filter(status=BackupJob.Status.FAILED, finished_at__gte=since)


def funnel() -> list[Figure]:
    """Migration cases per state."""
    migration = MigrationCase.Purpose.MIGRATION
    counts = dict(
        MigrationCase.objects.filter(purpose=migration)
        .order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    top = max(counts.values(), default=0) or 1
    return [
        Figure(
            label=label,
            count=counts.get(state, 0),
            url=changelist(MigrationCase, purpose__exact=migration, state__exact=state),
            width=round(100 * counts.get(state, 0) / top),
        )
        for state, label in MigrationCase.State.choices
    ]


# The re-consent funnel's stages, each the cases that reached it (a stamp, kept whatever the
# case did next): invited, opened the link, consented, verified.
RECONSENT_STAGES = (
    ("invited_at", "Invited"),
    ("opened_at", "Opened the link"),
    ("consented_at", "Consented"),
    ("verified_at", "Verified (Jira Software's scopes granted)"),
)


def reconsent_funnel() -> dict:
    """The re-consent campaign (Jira Software's scopes): sites whose grant still lacks them,
    and how far the cases got; one aggregate query for the stages."""
    reconsent = MigrationCase.Purpose.RECONSENT
    stages = MigrationCase.objects.filter(purpose=reconsent).aggregate(
        total=Count("pk"),
        failed=Count("pk", filter=Q(state=MigrationCase.State.FAILED)),
        **{
            stamp: Count("pk", filter=Q(**{f"{stamp}__isnull": False}))
            for stamp, _ in RECONSENT_STAGES
        },
    )
    top = stages["total"] or 1
    return {
        "needing": Figure(
            "Sites whose grant lacks Jira Software's scopes",
            sites_needing_reconsent().count(),
            changelist(JiraSite, ops="reconsent"),
        ),
        "cases": Figure(
            "Re-consent cases", stages["total"], changelist(MigrationCase, purpose__exact=reconsent)
        ),
        "stages": [
            Figure(
                label,
                stages[stamp],
                changelist(
                    MigrationCase, purpose__exact=reconsent, **{f"{stamp}__isnull": "False"}
                ),
                round(100 * stages[stamp] / top),
            )
            for stamp, label in RECONSENT_STAGES
        ],
        "failed": Figure(
            "Failed (the customer sees why)",
            stages["failed"],
            changelist(MigrationCase, purpose__exact=reconsent, state__exact="failed"),
        ),
    }


def pool_usage(*, now: datetime, hours: int = 24) -> list[dict]:
    """Points spent per hour per pool (the call ledger) against the pool's hourly quota; the
    global pool first, then the busiest legacy pools."""
    since = (now - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
    by_pool: dict[str, dict[datetime, int]] = {}
    for row in points_per_hour_per_pool(since=since):
        by_pool.setdefault(row["pool"], {})[row["hour"]] = row["points"]
    pools = sorted(by_pool, key=lambda p: (p != GLOBAL_POOL, -max(by_pool[p].values())))
    usage = []
    for pool in pools[:POOLS_CHARTED]:
        limit = default_pool_limit(pool)
        hours_rows = []
        for hour, points in sorted(by_pool[pool].items()):
            hours_rows.append(
                {
                    "hour": hour,
                    "points": points,
                    "percent": round(100 * points / limit) if limit else 0,
                    "width": min(100, round(100 * points / limit)) if limit else 0,
                    "over": points > limit,
                    "url": _callstat_url(pool, hour),
                }
            )
        usage.append(
            {
                "pool": pool,
                "quota": limit,
                "hours": hours_rows,
                "peak": max(by_pool[pool].values()),
                "url": _callstat_url(pool, since, now + timedelta(hours=1)),
            }
        )
    return usage


def _callstat_url(pool: str, start: datetime, end: datetime | None = None) -> str:

    end = end or start + timedelta(hours=1)
    return changelist(CallStat, pool=pool, hour__gte=start.isoformat(), hour__lt=end.isoformat())


def protection(*, now: datetime) -> dict:
    """Sites per protection state (``backups.protection.state``: the counts the site filter,
    the tenant page, the customer page and ``protection_report`` show) and the open incidents."""
    counts = protection_counts()
    incidents = open_incidents()
    return {
        "states": [
            Figure(
                SiteProtection.State(state).label,
                counts[state],
                changelist(JiraSite, protection=state),
            )
            for state in STATES
        ],
        "total": sum(counts.values()),
        "incidents": list(incidents[:OPEN_INCIDENTS_LISTED]),
        "incidents_count": incidents.count(),
        "incidents_url": changelist(Incident, status__exact="open"),
    }


def dashboard(*, now: datetime | None = None) -> dict:
    """Everything the dashboard shows."""
    now = now or timezone.now()
    day_ago = now - timedelta(hours=24)
    cases = funnel()
    # The planner and the overdue count share one set-based pass over the schedules.
    plans, overdue = quota.plan_and_overdue(now=now, overdue_intervals=OVERDUE_INTERVALS)
    return {
        "now": now,
        "funnel": cases,
        "cases_total": sum(f.count for f in cases),
        "reconsent": reconsent_funnel(),
        "past_due": Figure(
            "Legacy sites past due",
            legacy_sites_past_due(now=now).count(),
            changelist(JiraSite, ops="past_due"),
        ),
        "grants_reauth": Figure(
            "Grants needing re-authorization",
            OAuthGrant.objects.filter(status=OAuthGrant.Status.NEEDS_REAUTH).count(),
            changelist(OAuthGrant, status__exact=OAuthGrant.Status.NEEDS_REAUTH),
        ),
        "sites_reauth": Figure(
            "Sites needing re-authorization",
            JiraSite.objects.filter(status=JiraSite.Status.NEEDS_REAUTH).count(),
            changelist(JiraSite, status__exact=JiraSite.Status.NEEDS_REAUTH),
        ),
        "protection": protection(now=now),
        "backup_overdue": Figure(
            "Active sites with a schedule and no successful backup in their window (planner)",
            overdue,
            changelist(JiraSite, ops="backup_overdue"),
        ),
        "failed_jobs": Figure(
            "Failed backup jobs, last 24 h",
            failed_jobs_since(day_ago).count(),
            changelist(
                BackupJob,
                status__exact=BackupJob.Status.FAILED,
                finished_at__gte=day_ago.isoformat(),
            ),
        ),
        "pools": pool_usage(now=now),
        "plans": plans,
        "forecast": [f for f in quota.forecast(now=now) if f.runs or f.warns],
        "headroom_percent": round(quota.HEADROOM * 100),
    }


def cached_dashboard(*, refresh: bool = False) -> dict:
    """``dashboard()``, computed at most once per ``OPS_DASHBOARD_CACHE_SECONDS`` (60 by
    default; 0 disables): at 30,000 sites its aggregates cost seconds, and a page several
    people keep open must not recompute them on every load. ``refresh`` recomputes now."""
    seconds = int(getattr(settings, "OPS_DASHBOARD_CACHE_SECONDS", 60))
    if seconds <= 0:
        return dashboard()
    data = None if refresh else cache.get(CACHE_KEY)
    if data is None:
        data = dashboard()
        cache.set(CACHE_KEY, data, seconds)
    return data
