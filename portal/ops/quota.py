"""The quota planner: do the current backup schedules fit the rate-limit pools?

A site's need, in points per hour, is estimated from its recent snapshots:

    need = mean points of its incremental snapshots (last ``LOOKBACK``) / interval_hours
         + mean points of its full snapshots (last ``FULL_LOOKBACK``) / (full_every_days * 24)

Sites on the vendor grant draw on the app's global pool; a legacy API-token site on its own
pool (``atlassian.ratelimit.legacy_pool``). A pool whose summed need exceeds ``HEADROOM`` of its
hourly quota does not fit: the planner names the biggest consumers whose move (to a longer
interval, or to another hour of the day) brings the pool back under the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Avg
from django.utils import timezone

from atlassian.ratelimit import GLOBAL_POOL, default_pool_limit, legacy_pool
from backups.models import BackupJob, BackupSchedule, Snapshot

LOOKBACK = timedelta(days=14)
# Full backups are rarer: their cost is the mean of the last quarter's full snapshots.
FULL_LOOKBACK = timedelta(days=92)
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


def pool_of(*, cloud_id: str, uses_grant: bool) -> str:
    return GLOBAL_POOL if uses_grant else legacy_pool(cloud_id)


def site_needs(*, now: datetime | None = None) -> list[SiteNeed]:
    """Every enabled schedule's estimated points per hour (three aggregate queries, no query
    per site)."""
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
    for pk, site_id, url, cloud_id, grant_id, interval, full_every in rows.iterator(2000):
        per_hour = float(incremental.get(site_id) or 0) / max(interval, 1)
        per_hour += float(full.get(site_id) or 0) / (max(full_every, 1) * 24)
        needs.append(
            SiteNeed(
                site_id=site_id,
                url=url,
                pool=pool_of(cloud_id=cloud_id, uses_grant=grant_id is not None),
                schedule_id=pk,
                interval_hours=interval,
                points_per_hour=per_hour,
            )
        )
    return needs


def plan(*, now: datetime | None = None, legacy_pools_listed: int = 10) -> list[PoolPlan]:
    """One plan per pool: the global pool first, then the legacy pools nearest their quota."""
    by_pool: dict[str, list[SiteNeed]] = {}
    for need in site_needs(now=now):
        by_pool.setdefault(need.pool, []).append(need)
    plans = []
    for pool, needs in by_pool.items():
        quota = default_pool_limit(pool)
        total = sum(n.points_per_hour for n in needs)
        pool_plan = PoolPlan(pool=pool, quota=quota, need=total, sites=len(needs))
        if not pool_plan.fits:
            pool_plan.to_move = _to_move(needs, total - pool_plan.target)
        plans.append(pool_plan)
    plans.sort(key=lambda p: (p.pool != GLOBAL_POOL, -p.percent))
    globals_ = [p for p in plans if p.pool == GLOBAL_POOL]
    others = [p for p in plans if p.pool != GLOBAL_POOL]
    return globals_ + others[:legacy_pools_listed]


def _to_move(needs: list[SiteNeed], excess: float) -> list[SiteNeed]:
    """The fewest sites (biggest first) whose need covers ``excess``."""
    moved, covered = [], 0.0
    for need in sorted(needs, key=lambda n: -n.points_per_hour):
        if covered >= excess or len(moved) >= MOVES_LISTED:
            break
        moved.append(need)
        covered += need.points_per_hour
    return moved
