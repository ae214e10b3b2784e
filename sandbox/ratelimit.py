"""Atlassian's three rate limits for 3LO apps, and the points ledger.

1. Hourly points quota: Tier 1 is one pool shared by every site of the app; Tier 2 (opt-in per
   site, ``tier2_quota`` gives Atlassian's size for a plan and user count) gives that site its
   own pool. Exhausted means every request of the pool is refused until the top of the next
   UTC hour on the sandbox clock. While quotas are not enforced (``quota_enforced`` False, as
   before 2 March 2026) nothing is refused and the structured headers carry the ``Beta-``
   prefix: ``Beta-RateLimit-Policy: "tenant-app-quota";q=…;w=3600``.
2. Burst: token bucket per site x endpoint x method.
3. Per-issue writes: 20 per 2 s and 100 per 30 s on one issue.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.clock import hour_start, iso_z

GLOBAL_POOL = "global"
TENANT_POOL = "tenant"
API_TOKEN_POOL = "api-token"

DEFAULT_BURST = {"GET": 100, "POST": 100, "PUT": 50, "DELETE": 50}
# Endpoints Atlassian documents with a higher burst rate (route name -> per second).
ENDPOINT_BURST = {"attachment-content": 300, "issue": 150, "issue-changelog": 200}
ISSUE_WRITE_WINDOWS = ((2.0, 20), (30.0, 100))
NEAR_LIMIT_FRACTION = 0.2
# Atlassian's Tier 2 sizes: plan -> (base points, points per user), capped.
TIER2_PLANS = {
    "free": (65_000, 0),
    "standard": (100_000, 10),
    "premium": (130_000, 20),
    "enterprise": (150_000, 30),
}
TIER2_CAP = 500_000


def tier2_quota(plan: str, users: int = 0) -> int:
    base, per_user = TIER2_PLANS[plan.lower()]
    return min(TIER2_CAP, base + per_user * max(0, int(users)))


@dataclass
class Limited:
    """A refusal: what the 429 must say."""

    reason: str
    retry_after: int
    limit: int
    reset_at: float
    remaining: int = 0
    policy: str | None = None

    def headers(self, now: float) -> dict[str, str]:
        headers = {
            "Retry-After": str(max(1, self.retry_after)),
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": iso_z(self.reset_at),
            "RateLimit-Reason": self.reason,
        }
        if self.policy:
            headers["RateLimit-Policy"] = f'"{self.policy}";q={self.limit};w=3600'
            headers["RateLimit"] = (
                f'"{self.policy}";r={self.remaining};t={max(0, math.ceil(self.reset_at - now))}'
            )
        return headers


class Ledger:
    """Points charged, per hour x pool x site x app. Tests and benchmarks read it."""

    def __init__(self, resolve_site: Callable[[Any], str] | None = None) -> None:
        self._lock = threading.Lock()
        # Lets callers pass a Site, a site name or a cloud id.
        self._resolve_site = resolve_site or (lambda ref: getattr(ref, "cloud_id", ref))
        self._points: dict[tuple[float, str, str | None, str | None], int] = defaultdict(int)

    def record(
        self, ts: float, pool: str, site: str | None, client_id: str | None, points: int
    ) -> None:
        with self._lock:
            self._points[(hour_start(ts), pool, site, client_id)] += points

    def points(
        self,
        pool: str | None = None,
        site: object = None,
        hour: float | datetime | None = None,
        client_id: str | None = None,
    ) -> int:
        """Sum of points matching every given filter (`site` may be a Site or a cloud id)."""
        site_id = self._resolve_site(site) if site is not None else None
        if isinstance(hour, datetime):
            hour = hour.timestamp()
        hour_key = hour_start(hour) if hour is not None else None
        with self._lock:
            return sum(
                pts
                for (h, p, s, c), pts in self._points.items()
                if (pool is None or p == pool)
                and (site_id is None or s == site_id)
                and (hour_key is None or h == hour_key)
                and (client_id is None or c == client_id)
            )

    def entries(self) -> list[dict]:
        with self._lock:
            return [
                {"hour": iso_z(h), "pool": p, "site": s, "client_id": c, "points": pts}
                for (h, p, s, c), pts in sorted(self._points.items(), key=lambda kv: kv[0][0])
            ]

    def clear(self) -> None:
        with self._lock:
            self._points.clear()


@dataclass
class RateLimiter:
    enabled: bool = True
    tier1_quota: int = 65_000
    tier2_quotas: dict[str, int] = field(default_factory=dict)
    burst: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_BURST))
    endpoint_burst: dict[str, int] = field(default_factory=lambda: dict(ENDPOINT_BURST))
    burst_enabled: bool = True
    # False: points are counted and announced (Beta- headers) but never refused.
    quota_enforced: bool = True
    issue_write_windows: tuple[tuple[float, int], ...] = ISSUE_WRITE_WINDOWS
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _used: dict[tuple[str, str, float], int] = field(default_factory=lambda: defaultdict(int))
    _buckets: dict[tuple, tuple[float, float]] = field(default_factory=dict)
    _writes: dict[tuple[str, str], deque] = field(default_factory=lambda: defaultdict(deque))

    def reset(self) -> None:
        with self._lock:
            self._used.clear()
            self._buckets.clear()
            self._writes.clear()

    def pool_for(self, client_id: str, site_id: str) -> tuple[str, str, int]:
        """(pool kind, pool key, quota) that a 3LO request to this site draws from."""
        if site_id in self.tier2_quotas:
            return TENANT_POOL, site_id, self.tier2_quotas[site_id]
        return GLOBAL_POOL, client_id, self.tier1_quota

    def remaining(self, client_id: str, site_id: str, now: float) -> tuple[int, int]:
        kind, key, quota = self.pool_for(client_id, site_id)
        with self._lock:
            used = self._used.get((kind, key, hour_start(now)), 0)
        return quota, max(0, quota - used)

    def check_quota(self, client_id: str, site_id: str, now: float) -> Limited | None:
        if not (self.enabled and self.quota_enforced):
            return None
        kind, key, quota = self.pool_for(client_id, site_id)
        with self._lock:
            used = self._used.get((kind, key, hour_start(now)), 0)
        if used < quota:
            return None
        reset_at = hour_start(now) + 3600
        reason = "jira-quota-global-based" if kind == GLOBAL_POOL else "jira-quota-tenant-based"
        return Limited(
            reason=reason,
            retry_after=math.ceil(reset_at - now),
            limit=quota,
            reset_at=reset_at,
            policy=_policy_name(kind),
        )

    def charge(self, client_id: str, site_id: str, points: int, now: float) -> str:
        """Add points to the pool; returns the pool kind charged."""
        kind, key, _quota = self.pool_for(client_id, site_id)
        with self._lock:
            self._used[(kind, key, hour_start(now))] += points
        return kind

    def quota_headers(self, client_id: str, site_id: str, now: float) -> dict[str, str]:
        kind, _key, _ = self.pool_for(client_id, site_id)
        quota, left = self.remaining(client_id, site_id, now)
        reset_in = math.ceil(hour_start(now) + 3600 - now)
        policy = _policy_name(kind)
        prefix = "" if self.quota_enforced else "Beta-"
        headers = {
            "X-RateLimit-Limit": str(quota),
            "X-RateLimit-Remaining": str(left),
            f"{prefix}RateLimit-Policy": f'"{policy}";q={quota};w=3600',
            f"{prefix}RateLimit": f'"{policy}";r={left};t={reset_in}',
        }
        if left < quota * NEAR_LIMIT_FRACTION:
            headers["X-RateLimit-NearLimit"] = "true"
        return headers

    def check_burst(self, site_id: str, route: str, method: str, now: float) -> Limited | None:
        if not (self.enabled and self.burst_enabled):
            return None
        rate = self.endpoint_burst.get(route) or self.burst.get(method, 100)
        key = (site_id, route, method)
        with self._lock:
            tokens, last = self._buckets.get(key, (float(rate), now))
            tokens = min(float(rate), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / rate
                return Limited("jira-burst-based", math.ceil(wait), rate, now + wait)
            self._buckets[key] = (tokens - 1.0, now)
        return None

    def check_issue_write(self, site_id: str, issue_id: str, now: float) -> Limited | None:
        if not self.enabled:
            return None
        with self._lock:
            stamps = self._writes[(site_id, issue_id)]
            longest = max(w for w, _ in self.issue_write_windows)
            while stamps and stamps[0] <= now - longest:
                stamps.popleft()
            for window, limit in self.issue_write_windows:
                inside = [t for t in stamps if t > now - window]
                if len(inside) >= limit:
                    reset_at = inside[0] + window
                    return Limited(
                        "jira-per-issue-on-write", math.ceil(reset_at - now), limit, reset_at
                    )
            stamps.append(now)
        return None


def _policy_name(kind: str) -> str:
    return "global-app-quota" if kind == GLOBAL_POOL else "tenant-app-quota"
