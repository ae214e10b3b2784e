"""The quota planner: do the current backup schedules fit the rate-limit pools?

A site's need, in points per hour, is estimated from its recent snapshots:

    need = mean points of its incremental snapshots (last ``LOOKBACK``) / interval_hours
         + mean points of its full snapshots (last ``FULL_LOOKBACK``) / (full_every_days * 24)

Sites on the vendor grant draw on the app's global pool, or on their own pool on Atlassian's
Tier 2 (``atlassian.pools``); a legacy API-token site on its own pool
(``atlassian.ratelimit.legacy_pool``). A pool whose summed need exceeds ``HEADROOM`` of its
hourly quota does not fit: the planner names the biggest consumers whose move (to a longer
interval, or to another hour of the day) brings the pool back under the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Avg, Q, Sum
from django.utils import timezone

from atlassian.pools import tier2_cloud_ids
from atlassian.ratelimit import (
    GLOBAL_POOL,
    default_pool_limit,
    interactive_reserve,
    tenant_pool,
)
from backups.models import LIVE_SITE_STATUSES, BackupJob, BackupSchedule, Snapshot
from backups.services import (
    ESTIMATE_LOOKBACK,
    OVERDUE_INTERVALS,
    estimate_points_per_hour,
    pool_of,
)
from backups.services import FULL_LOOKBACK as SERVICE_FULL_LOOKBACK
from tenants.models import JiraSite

# Kept on the schedule by the backup service with these windows (one definition).
LOOKBACK = ESTIMATE_LOOKBACK
# Full backups are rarer: their cost is the mean of the last quarter's full snapshots.
FULL_LOOKBACK = SERVICE_FULL_LOOKBACK
# Plan to use at most this share of a pool: interactive traffic and retries need the rest.
HEADROOM = 0.8
# Sites listed as "to move" at most (the biggest first).
MOVES_LISTED = 25


@dataclass
class SiteNeed:
    site_id: int
    url: str
    pool: str
    schedule_id: int
    interval_hours: int
    points_per_hour: float


@dataclass
class PoolPlan:
    pool: str
    quota: int
    need: float
    sites: int
    to_move: list[SiteNeed] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.need <= self.quota * HEADROOM

    @property
    def percent(self) -> int:
        return round(100 * self.need / self.quota) if self.quota else 0

    @property
    def target(self) -> int:
        return int(self.quota * HEADROOM)


def site_needs(*, now: datetime | None = None) -> list[SiteNeed]:
    """Every enabled schedule's estimated points per hour computed from scratch from the
    snapshots (three aggregate queries, no query per site); the dashboard reads the same
    figure kept on the schedule (``plan_and_overdue``)."""
    now = now or timezone.now()
    complete = Snapshot.objects.filter(status=Snapshot.Status.COMPLETE).order_by()
    incremental = dict(
        complete.filter(kind=BackupJob.Kind.INCREMENTAL, completed_at__gte=now - LOOKBACK)
        .values("site_id")
        .annotate(a=Avg("points_spent"))
        .values_list("site_id", "a")
    )
    full = dict(
        complete.filter(kind=BackupJob.Kind.FULL, completed_at__gte=now - FULL_LOOKBACK)
        .values("site_id")
        .annotate(a=Avg("points_spent"))
        .values_list("site_id", "a")
    )
    rows = (
        BackupSchedule.objects.filter(enabled=True)
        .exclude(site__status__in=["disconnected", "offboarded"])
        .values_list(
            "pk",
            "site_id",
            "site__url",
            "site__cloud_id",
            "site__grant_id",
            "interval_hours",
            "full_every_days",
        )
    )
    needs = []
    tier2 = set(tier2_cloud_ids())
    for pk, site_id, url, cloud_id, grant_id, interval, full_every in rows.iterator(2000):
        per_hour = estimate_points_per_hour(
            incremental_mean=incremental.get(site_id),
            full_mean=full.get(site_id),
            interval_hours=interval,
            full_every_days=full_every,
        )
        needs.append(
            SiteNeed(
                site_id=site_id,
                url=url,
                pool=pool_of(cloud_id=cloud_id, uses_grant=grant_id is not None, tier2=tier2),
                schedule_id=pk,
                interval_hours=interval,
                points_per_hour=per_hour,
            )
        )
    return needs


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _live_schedules_sql() -> tuple[str, list]:
    """FROM/WHERE of the enabled schedules of live sites. Everything the planner filters on is
    the schedule's own: its points per hour and overdue moment (kept by the backup service,
    ``backups.services.schedule_estimates_refresh``: no snapshot is read) and its copy of the
    site's pool and status (kept by the tenants services, ``schedules_follow_sites``: no join
    to the sites). The predicate is the condition of the schedule's partial indexes."""
    schedule = BackupSchedule._meta.db_table
    sql = f"""
        FROM {schedule} sc
        WHERE sc.enabled AND sc.site_status IN (%s, %s)"""
    return sql, list(LIVE_SITE_STATUSES)


def plan_and_overdue(
    *, now: datetime | None = None, legacy_pools_listed: int = 10, overdue_intervals: int = 2
) -> tuple[list[PoolPlan], int]:
    """``plan()`` and the number of active sites whose newest complete snapshot is older than
    ``overdue_intervals`` of their schedule's interval (never backed up included), from one
    query over the schedules (the dashboard's set-based read; ``backup_overdue_sites`` lists
    the same sites)."""
    now = now or timezone.now()
    live, live_params = _live_schedules_sql()
    adapt = connection.ops.adapt_datetimefield_value
    if overdue_intervals == OVERDUE_INTERVALS:
        # The schedule stores the moment it becomes overdue (indexed): two range reads, the
        # past and NULL (never backed up), counted apart so each is an index condition.
        overdue_counts = [("sc.overdue_at < %s", [adapt(now)]), ("sc.overdue_at IS NULL", [])]
    else:
        intervals = sorted(
            set(
                BackupSchedule.objects.filter(enabled=True)
                .order_by()
                .values_list("interval_hours", flat=True)
                .distinct()
            )
        )
        whens = " ".join("WHEN %s THEN %s" for _ in intervals)
        where = (
            f"COALESCE(sc.last_success_at, %s) < CASE sc.interval_hours {whens} END"
            if intervals
            else "1 = 0"
        )
        params = [adapt(EPOCH)] if intervals else []
        for hours in intervals:
            params += [hours, adapt(now - timedelta(hours=hours * overdue_intervals))]
        overdue_counts = [(where, params)]
    # The global pool's sum reads the whole partial index of its schedules (index only) and
    # its biggest consumers the first entries; the legacy top-N walks the legacy partial index
    # and stops after N rows; the overdue counts are ranges of the partial index on overdue_at
    # (active sites). Only the listed rows join the sites, for their URL and cloud id (a
    # legacy pool's name is read from the site itself).
    site = JiraSite._meta.db_table
    overdue_sql = " ".join(
        f"""UNION ALL
        SELECT 2, '', COUNT(*), NULL, NULL, NULL, NULL FROM {BackupSchedule._meta.db_table} sc
        WHERE sc.enabled AND sc.site_status = %s AND {where}"""  # noqa: S608 - as below
        for where, _ in overdue_counts
    )
    overdue_params = [
        value for _, params in overdue_counts for value in (JiraSite.Status.ACTIVE, *params)
    ]
    sql = f"""
        SELECT 0, '', COUNT(*), SUM(sc.points_per_hour_estimate), NULL, NULL, NULL
        {live} AND sc.pool = %s
        UNION ALL
        SELECT 1, legacy.pool, legacy.interval_hours, legacy.points_per_hour_estimate,
               legacy.id, legacy.site_id, si.url
        FROM (
            SELECT sc.pool, sc.interval_hours, sc.points_per_hour_estimate, sc.id, sc.site_id
            {live} AND sc.pool <> %s
            ORDER BY sc.points_per_hour_estimate DESC, sc.pool LIMIT %s
        ) legacy JOIN {site} si ON si.id = legacy.site_id
        UNION ALL
        SELECT 3, '', biggest.interval_hours, biggest.points_per_hour_estimate, biggest.id,
               biggest.site_id, si.url
        FROM (
            SELECT sc.interval_hours, sc.points_per_hour_estimate, sc.id, sc.site_id
            {live} AND sc.pool = %s
            ORDER BY sc.points_per_hour_estimate DESC, sc.id LIMIT %s
        ) biggest JOIN {site} si ON si.id = biggest.site_id
        {overdue_sql}
        """  # noqa: S608 - table names from the models, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                *live_params,
                GLOBAL_POOL,
                *live_params,
                GLOBAL_POOL,
                legacy_pools_listed,
                *live_params,
                GLOBAL_POOL,
                MOVES_LISTED,
                *overdue_params,
            ],
        )
        rows = cursor.fetchall()
    plans, overdue = [], 0
    # The global pool's biggest consumers come with the totals (used only if it does not fit).
    biggest = [
        SiteNeed(site_id, url, GLOBAL_POOL, schedule_id, interval, float(need))
        for part, _, interval, need, schedule_id, site_id, url in rows
        if part == 3
    ]
    # part 0: the global pool (number = its sites); part 1: one site's own pool per row (a
    # Tier 2 or legacy pool is one site, cloud ids being unique; number = its interval); part
    # 2: overdue counts (summed).
    ordered = sorted(rows, key=lambda r: (r[0], -float(r[3] or 0), r[1]))
    for part, pool_name, number, total, schedule_id, site_id, url in ordered:
        if part == 2:
            overdue += number
            continue
        if part == 3 or (part == 0 and not number):
            continue
        pool = GLOBAL_POOL if part == 0 else pool_name
        pool_plan = PoolPlan(
            pool=pool,
            quota=default_pool_limit(pool),
            need=float(total or 0),
            sites=number if part == 0 else 1,
        )
        if not pool_plan.fits:
            candidates = (
                biggest
                if part == 0
                else [SiteNeed(site_id, url, pool, schedule_id, number, pool_plan.need)]
            )
            pool_plan.to_move = _to_move(candidates, pool_plan.need - pool_plan.target)
        plans.append(pool_plan)
    return plans, overdue


def plan(*, now: datetime | None = None, legacy_pools_listed: int = 10) -> list[PoolPlan]:
    """One plan per pool: the global pool first, then the legacy pools nearest their quota.

    Set-based (``plan_and_overdue``): one query gives the global pool's total and the
    ``legacy_pools_listed`` legacy pools with the biggest need (every legacy pool has the same
    quota, so the biggest need is the highest percentage); the same query lists the global
    pool's ``MOVES_LISTED`` biggest consumers (a top-N sort), used when it does not fit."""
    return plan_and_overdue(now=now, legacy_pools_listed=legacy_pools_listed)[0]


def _to_move(needs: list[SiteNeed], excess: float) -> list[SiteNeed]:
    """The fewest sites (biggest first) whose need covers ``excess``."""
    moved, covered = [], 0.0
    for need in sorted(needs, key=lambda n: -n.points_per_hour):
        if covered >= excess or len(moved) >= MOVES_LISTED:
            break
        moved.append(need)
        covered += need.points_per_hour
    return moved


# ----------------------------------------------------------------- the backlog forecast

# What a first backup is assumed to cost before anything is known of the site (about a
# 1,000-issue site's full backup); once its job has counted the issues, FULL_POINTS_PER_ISSUE
# times their number. The estimate kept on the schedule replaces both after one snapshot.
FIRST_BACKUP_POINTS = 20_000
FULL_POINTS_PER_ISSUE = 18.5
# Sites named per pool at most (the soonest deadline first).
SITES_LISTED = 25


@dataclass
class SiteForecast:
    site_id: int
    url: str
    schedule_id: int
    deadline: datetime
    finishes_at: datetime | None  # None: never, at the current rate
    points: float

    @property
    def late(self) -> bool:
        return self.finishes_at is None or self.finishes_at > self.deadline


@dataclass
class PoolForecast:
    """A pool's backlog (the runs due now or running) against what its hour leaves for it."""

    pool: str
    quota: int
    # Points an hour scheduled backups may use (the quota less the interactive reserve).
    capacity: int
    # Points an hour the schedules of the sites *not* in the backlog need meanwhile.
    steady_need: float
    # Points an hour all the pool's schedules need (the planner's figure).
    need: float = 0.0
    backlog_points: float = 0.0
    runs: int = 0
    missed: list[SiteForecast] = field(default_factory=list)  # deadline already passed
    will_miss: list[SiteForecast] = field(default_factory=list)  # the warning: not yet

    @property
    def spare(self) -> float:
        return max(0.0, self.capacity - self.steady_need)

    @property
    def hours_to_clear(self) -> float | None:
        if not self.backlog_points:
            return 0.0
        return self.backlog_points / self.spare if self.spare else None

    @property
    def warns(self) -> bool:
        return bool(self.will_miss or self.missed)


def _run_cost(estimate: float, interval: int, job: dict | None) -> float:
    cost = estimate * interval
    if not cost:
        issues = (job or {}).get("objects_total") or 0
        cost = issues * FULL_POINTS_PER_ISSUE if issues else FIRST_BACKUP_POINTS
    return max(0.0, cost - float((job or {}).get("points_spent") or 0))


def forecast(*, now: datetime | None = None) -> list[PoolForecast]:
    """Per pool: the backlog (runs due and not enqueued yet, and active jobs), the hours its
    spare points need to clear it, and the sites whose run will finish after their window
    (their last success plus their interval) — ``will_miss`` before it happens, ``missed``
    once it has. Runs clear in the scheduler's order: the soonest deadline first."""
    now = now or timezone.now()
    live = BackupSchedule.objects.filter(enabled=True, site_status__in=LIVE_SITE_STATUSES)
    needs = {
        pool: float(need or 0)
        for pool, need in live.order_by()
        .values("pool")
        .annotate(need=Sum("points_per_hour_estimate"))
        .values_list("pool", "need")
    }
    tier2 = {tenant_pool(cloud_id): q for cloud_id, q in tier2_cloud_ids().items()}
    jobs = {
        row["site_id"]: row
        for row in BackupJob.objects.filter(status__in=("queued", "running"))
        .order_by()
        .values("site_id", "created_at", "objects_total", "points_spent")
    }
    pending = (
        live.filter(
            Q(next_run_at__lte=now) | Q(next_run_at__isnull=True) | Q(site_id__in=list(jobs))
        )
        .order_by()
        .values_list(
            "pk",
            "site_id",
            "site__url",
            "pool",
            "interval_hours",
            "points_per_hour_estimate",
            "last_success_at",
            "next_run_at",
        )
    )
    runs: dict[str, list[tuple]] = {}
    for pk, site_id, url, pool, interval, estimate, last, next_run in pending.iterator(2000):
        job = jobs.get(site_id)
        start = last or (job or {}).get("created_at") or next_run or now
        deadline = start + timedelta(hours=interval)
        cost = _run_cost(float(estimate or 0), interval, job)
        runs.setdefault(pool, []).append((deadline, site_id, url, pk, cost, float(estimate or 0)))
    plans = []
    for pool in sorted(set(needs) | set(runs), key=lambda p: (p != GLOBAL_POOL, p)):
        quota = tier2.get(pool) or default_pool_limit(pool)
        pool_runs = sorted(runs.get(pool, []))
        pending_need = sum(r[5] for r in pool_runs)
        plan = PoolForecast(
            pool=pool,
            quota=quota,
            capacity=quota - interactive_reserve(quota),
            steady_need=max(0.0, needs.get(pool, 0.0) - pending_need),
            need=needs.get(pool, 0.0),
            runs=len(pool_runs),
        )
        done = 0.0
        for deadline, site_id, url, schedule_id, cost, _ in pool_runs:
            done += cost
            plan.backlog_points += cost
            hours = done / plan.spare if plan.spare else None
            finishes = now + timedelta(hours=hours) if hours is not None else None
            site = SiteForecast(site_id, url, schedule_id, deadline, finishes, cost)
            if not site.late:
                continue
            target = plan.missed if deadline <= now else plan.will_miss
            if len(target) < SITES_LISTED:
                target.append(site)
        plans.append(plan)
    return plans
