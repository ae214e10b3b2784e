"""Reads over the call ledger, for reports and the operations dashboard."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Max, Min, Sum
from django.db.models.functions import TruncWeek

from atlassian.client import LEGACY_KINDS
from atlassian.models import CallStat
from atlassian.ratelimit import default_pool_limit


def calls_per_credential_kind(*, since: datetime, until: datetime | None = None) -> dict[str, int]:
    """Requests per credential kind in [since, until)."""
    rows = _between(since, until).values("credential_kind").annotate(n=Sum("requests"))
    return {row["credential_kind"]: row["n"] for row in rows}


def points_per_hour_per_pool(
    *, since: datetime, until: datetime | None = None
) -> list[dict[str, object]]:
    """``[{"hour", "pool", "points", "requests"}, ...]`` ordered by hour then pool."""
    rows = (
        _between(since, until)
        .exclude(pool="")
        .values("hour", "pool")
        .annotate(points=Sum("points"), requests=Sum("requests"))
        .order_by("hour", "pool")
    )
    return list(rows)


def legacy_calls_per_week(
    *, since: datetime, until: datetime | None = None
) -> list[dict[str, object]]:
    """``[{"week", "credential_kind", "requests"}, ...]`` for legacy credentials only: the
    number that must reach zero before the cutoff."""
    rows = (
        _between(since, until)
        .filter(credential_kind__in=[str(k) for k in LEGACY_KINDS])
        .annotate(week=TruncWeek("hour"))
        .values("week", "credential_kind")
        .annotate(requests=Sum("requests"))
        .order_by("week", "credential_kind")
    )
    return list(rows)


def points_per_hour_against_quota(
    *,
    since: datetime,
    until: datetime | None = None,
    credential_kinds: Iterable[str] | None = None,
) -> list[dict[str, object]]:
    """Points per UTC hour per pool next to the pool's hourly quota (what the operations
    dashboard and the compliance report chart): ``[{"hour", "pool", "points", "requests",
    "quota", "percent", "over"}, ...]`` ordered by hour then pool. ``credential_kinds``
    narrows it (e.g. ``["vendor_grant"]`` for the vendor app's own traffic)."""
    qs = _between(since, until).exclude(pool="")
    if credential_kinds is not None:
        qs = qs.filter(credential_kind__in=[str(k) for k in credential_kinds])
    rows = (
        qs.values("hour", "pool")
        .annotate(points=Sum("points"), requests=Sum("requests"))
        .order_by("hour", "pool")
    )
    result = []
    for row in rows:
        quota = default_pool_limit(row["pool"])
        result.append(
            {
                **row,
                "quota": quota,
                "percent": round(100 * row["points"] / quota, 1) if quota else 0.0,
                "over": bool(quota) and row["points"] > quota,
            }
        )
    return result


def legacy_calls(*, since: datetime, until: datetime | None = None) -> list[dict[str, object]]:
    """Legacy-credential requests in [since, until) per site x credential kind x endpoint
    family x status class (the evidence behind "no legacy call after the cutoff"):
    ``[{"site_cloud_id", "credential_kind", "endpoint_family", "status_class", "requests",
    "points", "first_hour", "last_hour"}, ...]``."""
    rows = (
        _between(since, until)
        .filter(credential_kind__in=[str(k) for k in LEGACY_KINDS])
        .values("site_cloud_id", "credential_kind", "endpoint_family", "status_class")
        .annotate(
            requests=Sum("requests"),
            points=Sum("points"),
            first_hour=Min("hour"),
            last_hour=Max("hour"),
        )
        .order_by("site_cloud_id", "credential_kind", "endpoint_family", "status_class")
    )
    return list(rows)


def _between(since: datetime, until: datetime | None):
    qs = CallStat.objects.filter(hour__gte=since)
    if until is not None:
        qs = qs.filter(hour__lt=until)
    return qs


__all__ = [
    "calls_per_credential_kind",
    "legacy_calls",
    "legacy_calls_per_week",
    "points_per_hour_against_quota",
    "points_per_hour_per_pool",
]
