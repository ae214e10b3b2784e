"""Rate-limit state shared by every worker, and the hourly points budget.

Atlassian answers 429 for three independent limits, and says what to do about each
(``RateLimit-Reason``):

* ``jira-quota-global-based`` / ``jira-quota-tenant-based`` (``jira-cost-based`` is treated the
  same): the pool's hourly points are gone and *every* request of that pool is refused until the
  reset. We store "pool paused until T" and no worker sends anything on that pool before T.
* ``jira-burst-based``: store "site x method x endpoint not before T".
* ``jira-per-issue-on-write``: store "writes to site x issue not before T".

Holds live in Redis when ``REDIS_URL`` is set, else in the database (``RateLimitHold``). The
points budget (``PointsBudget``) counts per pool and UTC hour what the scheduler reserved and
what the client actually spent; the scheduler uses it for fair sharing between tenants.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol

import redis
from django.conf import settings
from django.db import DatabaseError
from django.db.models import F

logger = logging.getLogger(__name__)

GLOBAL_POOL = "global"
QUOTA_REASONS = frozenset({"jira-quota-global-based", "jira-quota-tenant-based", "jira-cost-based"})
BURST_REASON = "jira-burst-based"
ISSUE_WRITE_REASON = "jira-per-issue-on-write"
# Redis keys outlive their hold a little, so a late reader still sees why it waited.
_KEY_GRACE_SECONDS = 60
_POINTS_TTL_SECONDS = 26 * 3600


def tenant_pool(tenant_key: object) -> str:
    """The pool of a Tier 2 site (its own hourly quota; ``atlassian.pools``)."""
    return f"tenant:{tenant_key}"


def legacy_pool(site: str) -> str:
    """Legacy API-token traffic draws on its own, separate limits."""
    return f"api-token:{site}"


def hour_start(when: datetime | float | None = None) -> datetime:
    """The start of the UTC hour containing ``when`` (default: now)."""
    if when is None:
        when = time.time()
    if isinstance(when, int | float):
        when = datetime.fromtimestamp(when, UTC)
    when = when.astimezone(UTC)
    return when.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Hold:
    key: str
    not_before: float
    reason: str = ""


class HoldStore(Protocol):
    def active(self, keys: Iterable[str], now: float) -> list[Hold]: ...

    def hold(self, key: str, not_before: float, reason: str) -> None: ...

    def clear(self) -> None: ...


class RedisHoldStore:
    """Holds as Redis keys ``<prefix>hold:<key>`` = ``"<epoch> <reason>"``; only ever extended."""

    _EXTEND = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local ts = tonumber(string.match(cur, '^[^ ]+'))
  if ts and ts >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[3])
return 1
"""

    def __init__(self, client, prefix: str = "atl:") -> None:
        self.redis = client
        self.prefix = prefix
        self._extend = client.register_script(self._EXTEND)

    def _k(self, key: str) -> str:
        return f"{self.prefix}hold:{key}"

    def active(self, keys: Iterable[str], now: float) -> list[Hold]:
        keys = list(keys)
        if not keys:
            return []
        try:
            values = self.redis.mget([self._k(k) for k in keys])
        except redis.RedisError:
            logger.warning("rate-limit state unreadable in Redis; proceeding without it")
            return []
        holds = []
        for key, raw in zip(keys, values, strict=True):
            if not raw:
                continue
            stamp, _, reason = raw.decode().partition(" ")
            not_before = float(stamp)
            if not_before > now:
                holds.append(Hold(key, not_before, reason))
        return holds

    def hold(self, key: str, not_before: float, reason: str) -> None:
        ttl_ms = int(max(1.0, not_before - time.time() + _KEY_GRACE_SECONDS) * 1000)
        try:
            self._extend(keys=[self._k(key)], args=[repr(not_before), reason, ttl_ms])
        except redis.RedisError:
            logger.warning("could not store a rate-limit hold in Redis (%s)", key)

    def clear(self) -> None:
        for key in self.redis.scan_iter(f"{self.prefix}hold:*"):
            self.redis.delete(key)


class DbHoldStore:
    """Holds in ``RateLimitHold``. Reads a snapshot of all active holds (there are few) at
    most once per ``refresh_seconds``; the default 0 reads on every request, which keeps state
    exact across workers and tests (production uses Redis)."""

    def __init__(self, refresh_seconds: float = 0.0) -> None:
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._snapshot: dict[str, Hold] = {}
        self._read_at = float("-inf")

    def active(self, keys: Iterable[str], now: float) -> list[Hold]:
        from atlassian.models import RateLimitHold

        with self._lock:
            stale = time.monotonic() - self._read_at >= self.refresh_seconds
        if stale:
            try:
                rows = RateLimitHold.objects.filter(not_before__gt=now).values_list(
                    "key", "not_before", "reason"
                )
                snapshot = {k: Hold(k, nb, r) for k, nb, r in rows}
            except DatabaseError:
                logger.warning("rate-limit state unreadable in the database; proceeding")
                snapshot = None
            with self._lock:
                if snapshot is not None:
                    self._snapshot = snapshot
                self._read_at = time.monotonic()
        with self._lock:
            return [
                h for k in keys if (h := self._snapshot.get(k)) is not None and h.not_before > now
            ]

    def hold(self, key: str, not_before: float, reason: str) -> None:
        from atlassian.models import RateLimitHold

        with self._lock:
            mine = self._snapshot.get(key)
            if mine is None or mine.not_before < not_before:
                self._snapshot[key] = Hold(key, not_before, reason)
        try:
            RateLimitHold.objects.bulk_create(
                [RateLimitHold(key=key, not_before=not_before, reason=reason)],
                ignore_conflicts=True,
            )
            # Only ever extend a hold: a shorter one from a slower worker must not shorten it.
            RateLimitHold.objects.filter(key=key, not_before__lt=not_before).update(
                not_before=not_before, reason=reason
            )
            # Expired holds only explain the past; keep the table small.
            RateLimitHold.objects.filter(not_before__lt=time.time() - 3600).delete()
        except DatabaseError:
            logger.warning("could not store a rate-limit hold in the database (%s)", key)

    def clear(self) -> None:
        from atlassian.models import RateLimitHold

        RateLimitHold.objects.all().delete()
        with self._lock:
            self._snapshot.clear()
            self._read_at = float("-inf")


class RateLimiter:
    """The gate every request passes: how long to wait first, and what a 429 teaches us."""

    def __init__(self, store: HoldStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    @staticmethod
    def keys_for(
        *, pool: str | None, site: str, family: str, method: str, issue: str | None = None
    ) -> list[str]:
        keys = []
        if pool:
            keys.append(pool_key(pool))
        if site:
            keys.append(burst_key(site, method, family))
            if issue and method.upper() != "GET":
                keys.append(issue_key(site, issue))
        return keys

    def wait_before(
        self,
        *,
        pool: str | None,
        site: str,
        family: str,
        method: str,
        issue: str | None = None,
    ) -> tuple[float, Hold | None]:
        """Seconds to wait before sending, and the hold that imposes it (0, None if free)."""
        now = self.clock()
        keys = self.keys_for(pool=pool, site=site, family=family, method=method, issue=issue)
        holds = self.store.active(keys, now)
        if not holds:
            return 0.0, None
        longest = max(holds, key=lambda h: h.not_before)
        return max(0.0, longest.not_before - now), longest

    def note_429(
        self,
        *,
        pool: str | None,
        site: str,
        family: str,
        method: str,
        issue: str | None,
        reason: str,
        retry_after: float | None,
        reset_at: float | None,
    ) -> Hold:
        """Store what a 429 means for everyone else; returns the hold it created."""
        now = self.clock()
        wait = retry_after if retry_after is not None else 1.0
        not_before = now + wait
        if reason in QUOTA_REASONS and pool:
            if reset_at is not None:
                not_before = max(not_before, reset_at)
            key = pool_key(pool)
        elif reason == ISSUE_WRITE_REASON and issue and site:
            key = issue_key(site, issue)
        else:
            key = burst_key(site or "-", method, family)
        hold = Hold(key, not_before, reason or "unknown")
        self.store.hold(hold.key, hold.not_before, hold.reason)
        return hold


def pool_key(pool: str) -> str:
    return f"pool:{pool}"


def burst_key(site: str, method: str, family: str) -> str:
    return f"burst:{site}:{method.upper()}:{family}"


def issue_key(site: str, issue: str) -> str:
    return f"issue:{site}:{issue}"


# Who waits for a request: a person (the wizard's checks, connect, a restore someone started)
# or nobody (scheduled backups). See ``PointsBudget.try_spend``.
INTERACTIVE = "interactive"
SCHEDULED = "scheduled"
PRIORITIES = (INTERACTIVE, SCHEDULED)


def interactive_reserve(limit: int) -> int:
    """Points of each pool's hour that scheduled work leaves to interactive work
    (``ATLASSIAN_INTERACTIVE_RESERVE_PERCENT`` of the pool, default 5 %)."""
    percent = float(getattr(settings, "ATLASSIAN_INTERACTIVE_RESERVE_PERCENT", 5))
    return math.ceil(limit * max(0.0, min(percent, 100.0)) / 100)


def budget_clock() -> float:
    """Epoch seconds for the points budget's hours (``BACKUPS_CLOCK``: a dotted path to a
    callable; benchmarks and accelerated-clock tests point it at the sandbox's clock)."""
    from django.utils.module_loading import import_string

    path = getattr(settings, "BACKUPS_CLOCK", "") or ""
    return import_string(path)() if path else time.time()


def default_pool_limit(pool: str) -> int:
    """Hourly points of a pool: Tier 1 for the global pool, a Tier 2 site's own quota
    (``atlassian.pools.pool_limit``), else the Tier 2 default."""
    from atlassian.pools import pool_limit

    return pool_limit(pool)


class PointsBudget:
    """Points per pool and UTC hour, shared by all workers.

    ``try_spend`` is the scheduler's admission control: it reserves points only if the
    reservation keeps the pool within its hourly limit (atomic). ``record_spent`` adds what the
    client actually spent (fed by the call ledger's flush). ``remaining`` is the limit minus the
    larger of the two.
    """

    def __init__(
        self,
        redis_client=None,
        *,
        limit_for: Callable[[str], int] = default_pool_limit,
        prefix: str = "atl:",
    ) -> None:
        self.redis = redis_client
        self.limit_for = limit_for
        self.prefix = prefix
        if redis_client is not None:
            self._try = redis_client.register_script(
                """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
            )

    def _rkey(self, pool: str, hour: datetime, what: str) -> str:
        return f"{self.prefix}points:{pool}:{hour:%Y%m%d%H}:{what}"

    def try_spend(
        self,
        pool: str,
        points: int,
        *,
        hour: datetime | None = None,
        priority: str = INTERACTIVE,
        holdback: int = 0,
    ) -> bool:
        """Reserve ``points`` in ``pool`` for the hour; False (nothing reserved) if over limit.

        Work a person waits for (``INTERACTIVE``) may use the whole pool; scheduled work
        (``SCHEDULED``) stops short of the interactive reserve (``interactive_reserve``), so
        interactive work never waits behind it. ``holdback``: points more to leave to others
        (a full backup leaves the pool's incremental floors)."""
        hour = hour_start(hour)
        limit = self.limit_for(pool)
        if priority == SCHEDULED:
            limit -= interactive_reserve(limit)
        limit -= max(0, holdback)
        if self.redis is not None:
            key = self._rkey(pool, hour, "reserved")
            return bool(self._try(keys=[key], args=[points, limit, _POINTS_TTL_SECONDS]))
        from atlassian.models import PointsUsage

        PointsUsage.objects.bulk_create([PointsUsage(pool=pool, hour=hour)], ignore_conflicts=True)
        # The conditional UPDATE is the atomic check-and-add: exactly one row or none.
        changed = PointsUsage.objects.filter(
            pool=pool, hour=hour, reserved__lte=limit - points
        ).update(reserved=F("reserved") + points)
        return changed == 1

    def force(self, pool: str, points: int, *, hour: datetime | None = None) -> None:
        """Add ``points`` (negative: give back) to the hour's reservation unconditionally:
        settling what was really spent, which may exceed the limit."""
        if not points:
            return
        hour = hour_start(hour)
        if self.redis is not None:
            key = self._rkey(pool, hour, "reserved")
            pipe = self.redis.pipeline(transaction=False)
            pipe.incrby(key, points)
            pipe.expire(key, _POINTS_TTL_SECONDS)
            pipe.execute()
            return
        from atlassian.models import PointsUsage

        PointsUsage.objects.bulk_create([PointsUsage(pool=pool, hour=hour)], ignore_conflicts=True)
        PointsUsage.objects.filter(pool=pool, hour=hour).update(reserved=F("reserved") + points)

    def record_spent(self, pool: str, points: int, *, hour: datetime | None = None) -> None:
        self.record_spent_many({(pool, hour_start(hour)): points})

    def record_spent_many(self, spent: Mapping[tuple[str, datetime], int]) -> None:
        spent = {k: v for k, v in spent.items() if k[0] and v}
        if not spent:
            return
        if self.redis is not None:
            pipe = self.redis.pipeline(transaction=False)
            for (pool, hour), points in spent.items():
                key = self._rkey(pool, hour, "spent")
                pipe.incrby(key, points)
                pipe.expire(key, _POINTS_TTL_SECONDS)
            pipe.execute()
            return
        from atlassian.models import PointsUsage

        PointsUsage.objects.bulk_create(
            [PointsUsage(pool=pool, hour=hour) for pool, hour in spent], ignore_conflicts=True
        )
        for (pool, hour), points in sorted(spent.items()):
            PointsUsage.objects.filter(pool=pool, hour=hour).update(spent=F("spent") + points)

    def usage(self, pool: str, *, hour: datetime | None = None) -> tuple[int, int]:
        """(reserved, spent) in ``pool`` for the hour."""
        hour = hour_start(hour)
        if self.redis is not None:
            reserved, spent = self.redis.mget(
                [self._rkey(pool, hour, "reserved"), self._rkey(pool, hour, "spent")]
            )
            return int(reserved or 0), int(spent or 0)
        from atlassian.models import PointsUsage

        row = PointsUsage.objects.filter(pool=pool, hour=hour).values("reserved", "spent").first()
        return (row["reserved"], row["spent"]) if row else (0, 0)

    def remaining(self, pool: str, *, hour: datetime | None = None) -> int:
        reserved, spent = self.usage(pool, hour=hour)
        return max(0, self.limit_for(pool) - max(reserved, spent))


@lru_cache(maxsize=4)
def _redis_client(url: str):
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def default_rate_limiter() -> RateLimiter:
    """Redis-backed when REDIS_URL is set, else database-backed (one per process)."""
    return _default_limiter(getattr(settings, "REDIS_URL", "") or "")


@lru_cache(maxsize=4)
def _default_limiter(url: str) -> RateLimiter:
    store = RedisHoldStore(_redis_client(url)) if url else DbHoldStore()
    return RateLimiter(store)


def clear_shared_state() -> None:
    """Forget every hold of the default store (tests; an operator after a false alarm)."""
    default_rate_limiter().store.clear()


def default_budget() -> PointsBudget:
    url = getattr(settings, "REDIS_URL", "") or ""
    return PointsBudget(_redis_client(url) if url else None)


__all__ = [
    "GLOBAL_POOL",
    "INTERACTIVE",
    "SCHEDULED",
    "DbHoldStore",
    "Hold",
    "PointsBudget",
    "RateLimiter",
    "RedisHoldStore",
    "budget_clock",
    "clear_shared_state",
    "default_budget",
    "default_rate_limiter",
    "hour_start",
    "interactive_reserve",
    "legacy_pool",
    "tenant_pool",
]
