"""Which points pool a site draws on, and how big each pool is.

Tier 1 (the default): every site of the app shares one global pool
(``ATLASSIAN_TIER1_POINTS_PER_HOUR``, 65,000). Tier 2 (after Atlassian's review): a site has
its own pool, ``tenant:<cloud id>``, sized by the site's plan and user count::

    Free 65,000; Standard 100,000 + 10 x users; Premium 130,000 + 20 x users;
    Enterprise 150,000 + 30 x users; capped at 500,000 an hour.

A Tier 2 pool is a ``PoolQuota`` row: set by staff (``tenants.services.sites.site_set_pool``)
or learned from what Atlassian says on every answer — ``RateLimit-Policy`` (enforced) or
``Beta-RateLimit-Policy`` (announced, not yet enforced): ``"tenant-app-quota";q=N;w=3600``
names the site's own pool, ``"global-app-quota";q=N`` the app's. An enforced header wins over
everything: a site that Atlassian answers from the global pool is on Tier 1. Every change is
announced with ``pools_changed`` (the backups app keeps its schedules' pool and audits it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db import DatabaseError, transaction
from django.dispatch import Signal

from atlassian.models import PoolQuota
from atlassian.ratelimit import GLOBAL_POOL, tenant_pool

logger = logging.getLogger(__name__)

TENANT_POOL_PREFIX = "tenant:"
LEGACY_POOL_PREFIX = "api-token:"
TIER2_CAP = 500_000
# plan: (base points, points per user)
TIER2_FORMULA = {
    PoolQuota.Plan.FREE: (65_000, 0),
    PoolQuota.Plan.STANDARD: (100_000, 10),
    PoolQuota.Plan.PREMIUM: (130_000, 20),
    PoolQuota.Plan.ENTERPRISE: (150_000, 30),
}
GLOBAL_POLICY = "global-app-quota"
TENANT_POLICY = "tenant-app-quota"

# Sent with ``cloud_ids`` (a list) and ``reason`` ("admin", "header") when sites moved between
# tiers or their Tier 2 pool changed size. Receivers run in the writer's transaction.
pools_changed = Signal()

_POLICY = re.compile(r'"?([A-Za-z0-9_.-]+)"?\s*((?:;\s*[a-z]+=[^;,]*)*)')


def tier2_quota(plan: str, users: int) -> int:
    """Atlassian's Tier 2 hourly quota for a plan and user count (capped)."""
    try:
        base, per_user = TIER2_FORMULA[PoolQuota.Plan(plan)]
    except ValueError:
        names = ", ".join(p.label for p in PoolQuota.Plan)
        raise ValueError(f"unknown plan {plan!r}: one of {names}") from None
    if users < 0:
        raise ValueError("the user count cannot be negative")
    return min(TIER2_CAP, base + per_user * int(users))


def is_site_pool(pool: str) -> bool:
    """A pool that serves one site only (Tier 2, or a legacy API token's own limits)."""
    return pool.startswith((TENANT_POOL_PREFIX, LEGACY_POOL_PREFIX))


def tier2_cloud_ids(cloud_ids: Iterable[str] | None = None) -> dict[str, int]:
    """``{cloud id: points per hour}`` of the Tier 2 sites (of ``cloud_ids`` when given)."""
    rows = PoolQuota.objects.all()
    if cloud_ids is not None:
        rows = rows.filter(cloud_id__in=list(cloud_ids))
    return dict(rows.values_list("cloud_id", "points_per_hour"))


def grant_pool(cloud_id: str) -> str:
    """The pool a vendor-grant client of this site draws on."""
    if cloud_id and PoolQuota.objects.filter(cloud_id=cloud_id).exists():
        return tenant_pool(cloud_id)
    return GLOBAL_POOL


def pool_limit(pool: str) -> int:
    """Hourly points of ``pool``: Tier 1 for the global pool, the site's own quota for a Tier 2
    pool, the Tier 2 default for anything else (a legacy API token's separate limits)."""
    if pool == GLOBAL_POOL:
        return int(settings.ATLASSIAN_TIER1_POINTS_PER_HOUR)
    default = int(getattr(settings, "ATLASSIAN_TIER2_POINTS_PER_HOUR", 100_000))
    if pool.startswith(TENANT_POOL_PREFIX):
        try:
            found = (
                PoolQuota.objects.filter(cloud_id=pool[len(TENANT_POOL_PREFIX) :])
                .values_list("points_per_hour", flat=True)
                .first()
            )
        except DatabaseError:
            logger.warning("Tier 2 pools unreadable; using the default quota for %s", pool)
            found = None
        return int(found or default)
    return default


def parse_policy(value: str | None) -> dict[str, int]:
    """``{policy name: quota}`` from a ``RateLimit-Policy`` value (RFC draft structured field:
    ``"tenant-app-quota";q=150000;w=3600``, several separated by commas)."""
    found: dict[str, int] = {}
    for item in (value or "").split(","):
        match = _POLICY.match(item.strip())
        if not match:
            continue
        params = dict(part.strip().split("=", 1) for part in match[2].split(";") if "=" in part)
        try:
            quota = int(params.get("q", ""))
        except ValueError:
            continue
        if quota > 0:
            found[match[1]] = quota
    return found


def policy_of(headers: Mapping[str, str]) -> tuple[str, int, bool] | None:
    """(policy name, quota, enforced) from an answer's headers; the enforced header first."""
    for name, enforced in (("RateLimit-Policy", True), ("Beta-RateLimit-Policy", False)):
        policies = parse_policy(headers.get(name))
        for policy in (TENANT_POLICY, GLOBAL_POLICY):
            if policy in policies:
                return policy, policies[policy], enforced
    return None


def learn(cloud_id: str, policy: tuple[str, int, bool]) -> bool:
    """Record what an answer's policy header says about the site's tier; True if it changed
    anything (then ``pools_changed`` was sent, in the same transaction)."""
    name, quota, enforced = policy
    if not cloud_id:
        return False
    source = PoolQuota.Source.HEADER if enforced else PoolQuota.Source.BETA_HEADER
    with transaction.atomic():
        row = PoolQuota.objects.select_for_update().filter(cloud_id=cloud_id).first()
        if name == TENANT_POLICY:
            if row is not None and row.points_per_hour == quota:
                return False
            if row is not None and not enforced and row.source == PoolQuota.Source.HEADER:
                return False  # an announcement does not override what Atlassian enforces
            PoolQuota.objects.update_or_create(
                cloud_id=cloud_id, defaults={"points_per_hour": quota, "source": source}
            )
        else:
            # Answered from the app's global pool: Tier 1, if Atlassian enforces it.
            if row is None or not enforced:
                return False
            row.delete()
        logger.info("site %s: Atlassian says %s;q=%s (%s)", cloud_id, name, quota, source)
        pools_changed.send(
            sender=PoolQuota, cloud_ids=[cloud_id], reason="header", policy=f"{name};q={quota}"
        )
    return True


__all__ = [
    "GLOBAL_POOL",
    "TIER2_CAP",
    "grant_pool",
    "is_site_pool",
    "learn",
    "parse_policy",
    "policy_of",
    "pool_limit",
    "pools_changed",
    "tenant_pool",
    "tier2_cloud_ids",
    "tier2_quota",
]
