"""Fair sharing of a points pool between tenants.

Tier 1 gives every customer of the app one pool (65,000 points/hour); a Tier 2 site has its own
(``atlassian.pools``). Each tenant with a running job *on that pool* (backups and restores)
gets an equal share of the pool's hour; a scheduled step is admitted only when its estimated
cost fits both the tenant's share and the pool short of the interactive reserve
(``PointsBudget.try_spend``, atomic across workers). A step that does not fit re-queues its job
for later instead of waiting in a worker, so one large site never starves the others and
workers stay free for tenants that still have budget.

Interactive steps (a restore someone started) are not held to a share: they draw on the whole
pool, reserve included, so they never wait behind scheduled backups.
"""

from __future__ import annotations

import math

from django.db.models import Q, Sum

from atlassian.pools import is_site_pool, tier2_cloud_ids
from atlassian.ratelimit import (
    GLOBAL_POOL,
    INTERACTIVE,
    SCHEDULED,
    PointsBudget,
    default_budget,
    hour_start,
    interactive_reserve,
)
from backups import conf
from backups.models import LIVE_SITE_STATUSES, BackupJob, BackupSchedule
from backups.restore.models import RestoreJob

# Re-check a refused tenant at least this often: its share grows when other tenants finish.
RECHECK_SECONDS = 60.0


def active_tenants(pool_jobs=None, *, pool: str = GLOBAL_POOL) -> int:
    """Tenants with a running backup or restore on ``pool`` (at least 1). A pool of one site
    (Tier 2, a legacy token) has one tenant; the global pool the tenants of its sites that use
    the vendor grant and are not on Tier 2."""
    if pool_jobs is not None:
        return max(1, pool_jobs.values("site__tenant_id").distinct().count())
    if is_site_pool(pool):
        return 1
    tier2 = list(tier2_cloud_ids())

    def on_global(site: str) -> Q:
        legacy = Q(**{f"{site}__grant__isnull": True, f"{site}__legacy_credential__isnull": False})
        return ~legacy & ~Q(**{f"{site}__cloud_id__in": tier2})

    backups = BackupJob.objects.filter(on_global("site"), status=BackupJob.Status.RUNNING)
    restores = RestoreJob.objects.filter(on_global("target_site"), status=RestoreJob.Status.RUNNING)
    tenants = set(backups.values_list("site__tenant_id", flat=True).distinct())
    tenants |= set(restores.values_list("target_site__tenant_id", flat=True).distinct())
    return max(1, len(tenants))


def share_budget(budget: PointsBudget, pool: str) -> tuple[PointsBudget, int]:
    share = max(1, math.floor(budget.limit_for(pool) / active_tenants(pool=pool)))
    return PointsBudget(budget.redis, limit_for=lambda _key: share, prefix=budget.prefix), share


def share_key(pool: str, tenant_id: int) -> str:
    return f"share:{pool}:tenant:{tenant_id}"


def admit(
    *,
    pool: str | None,
    tenant_id: int,
    estimate: int,
    budget: PointsBudget | None = None,
    priority: str = SCHEDULED,
    full: bool = False,
) -> float:
    """0 when the step may run now (its points are reserved), else seconds to wait.

    A tenant whose share is smaller than one step (many tenants, large pages) may still take
    one step per hour, so no tenant ever stalls; the pool's own limit always holds. An
    interactive step skips the shares and may use the interactive reserve. A step of a
    ``full`` backup (a large site's first one takes many hours) leaves the pool's incremental
    floors (``floors``) for the rest of the hour, pro rata, to the incrementals that come due
    later in it; the hour's last minutes it may fill up."""
    if not pool:
        return 0.0
    budget = budget or default_budget()
    hour = hour_start(conf.clock())
    if priority == INTERACTIVE:
        return 0.0 if budget.try_spend(pool, estimate, hour=hour, priority=INTERACTIVE) else _wait()
    shares, share = share_budget(budget, pool)
    key = share_key(pool, tenant_id)
    if not shares.try_spend(key, estimate, hour=hour):
        reserved, _spent = shares.usage(key, hour=hour)
        if reserved > 0 or estimate <= share:
            return _wait()
        # First step of the hour for this tenant, larger than its whole share.
        shares = PointsBudget(budget.redis, limit_for=lambda _key: estimate, prefix=budget.prefix)
        if not shares.try_spend(key, estimate, hour=hour):
            return _wait()
    # What the incrementals of the rest of the hour need: the floors, pro rata.
    holdback = (
        int(floors(pool, budget) * (hour.timestamp() + 3600 - conf.clock()) / 3600) if full else 0
    )
    if not budget.try_spend(pool, estimate, hour=hour, priority=SCHEDULED, holdback=holdback):
        shares.try_spend(key, -estimate, hour=hour)  # give the share back: the step won't run
        return _wait()
    return 0.0


# A full backup leaves at most this share of the pool's scheduled hour to the floors, so it
# always progresses, if slowly, on a pool whose floors exceed it.
MAX_HOLDBACK = 0.9


def floors(pool: str, budget: PointsBudget) -> int:
    """Points an hour the pool's schedules need (their estimates: the incremental floors plus
    their periodic fulls spread out), held back from full backups."""
    need = (
        BackupSchedule.objects.filter(enabled=True, site_status__in=LIVE_SITE_STATUSES, pool=pool)
        .order_by()
        .aggregate(n=Sum("points_per_hour_estimate"))["n"]
    )
    limit = budget.limit_for(pool)
    return int(min(float(need or 0), MAX_HOLDBACK * (limit - interactive_reserve(limit))))


def settle(
    *,
    pool: str | None,
    tenant_id: int,
    estimate: int,
    actual: int,
    budget: PointsBudget | None = None,
    extra: int = 0,
    priority: str = SCHEDULED,
) -> None:
    """Correct a step's reservation to what it spent: record the excess (the hour may be
    full: the points were spent) or give back what it did not use, so the pool's hour is used
    in full. ``extra``: points the client reserved itself during the step (its requests went
    beyond the step's estimate), already in the pool but not in the share."""
    if not pool:
        return
    budget = budget or default_budget()
    hour = hour_start(conf.clock())
    if priority != INTERACTIVE and actual != estimate:
        shares, _ = share_budget(budget, pool)
        shares.force(share_key(pool, tenant_id), actual - estimate, hour=hour)
    budget.force(pool, actual - estimate - extra, hour=hour)


def _wait() -> float:
    now = conf.clock()
    to_next_hour = hour_start(now).timestamp() + 3600 - now
    return max(1.0, min(RECHECK_SECONDS, to_next_hour))
