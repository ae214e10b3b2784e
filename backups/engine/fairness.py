"""Fair sharing of a points pool between tenants.

Tier 1 gives every customer of the app one pool (65,000 points/hour). Each tenant with a running
job gets an equal share of the pool's hour; a step is admitted only when its estimated cost fits
both the tenant's share and the pool (``PointsBudget.try_spend``, atomic across workers). A step
that does not fit re-queues its job for later instead of waiting in a worker, so one large site
never starves the others and workers stay free for tenants that still have budget.
"""

from __future__ import annotations

import math

from atlassian.ratelimit import PointsBudget, default_budget, hour_start
from backups import conf
from backups.models import BackupJob

# Re-check a refused tenant at least this often: its share grows when other tenants finish.
RECHECK_SECONDS = 60.0


def active_tenants(pool_jobs=None) -> int:
    jobs = (
        pool_jobs
        if pool_jobs is not None
        else BackupJob.objects.filter(status=BackupJob.Status.RUNNING)
    )
    return max(1, jobs.values("site__tenant_id").distinct().count())


def share_budget(budget: PointsBudget, pool: str) -> tuple[PointsBudget, int]:
    share = max(1, math.floor(budget.limit_for(pool) / active_tenants()))
    return PointsBudget(budget.redis, limit_for=lambda _key: share, prefix=budget.prefix), share


def share_key(pool: str, tenant_id: int) -> str:
    return f"share:{pool}:tenant:{tenant_id}"


def admit(
    *, pool: str | None, tenant_id: int, estimate: int, budget: PointsBudget | None = None
) -> float:
    """0 when the step may run now (its points are reserved), else seconds to wait.

    A tenant whose share is smaller than one step (many tenants, large pages) may still take
    one step per hour, so no tenant ever stalls; the pool's own limit always holds."""
    if not pool:
        return 0.0
    budget = budget or default_budget()
    hour = hour_start(conf.clock())
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
    if not budget.try_spend(pool, estimate, hour=hour):
        shares.try_spend(key, -estimate, hour=hour)  # give the share back: the step won't run
        return _wait()
    return 0.0


def settle(
    *,
    pool: str | None,
    tenant_id: int,
    estimate: int,
    actual: int,
    budget: PointsBudget | None = None,
) -> None:
    """Correct a step's reservation to what it spent: reserve the excess (best effort, the hour
    may be full) or give back what it did not use, so the pool's hour is used in full."""
    difference = actual - estimate
    if not pool or difference == 0:
        return
    budget = budget or default_budget()
    hour = hour_start(conf.clock())
    shares, _ = share_budget(budget, pool)
    shares.try_spend(share_key(pool, tenant_id), difference, hour=hour)
    budget.try_spend(pool, difference, hour=hour)


def _wait() -> float:
    now = conf.clock()
    to_next_hour = hour_start(now).timestamp() + 3600 - now
    return max(1.0, min(RECHECK_SECONDS, to_next_hour))
