"""Reads over the call ledger, for reports and the operations dashboard."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Sum
from django.db.models.functions import TruncWeek

from atlassian.client import LEGACY_KINDS
from atlassian.models import CallStat


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


def _between(since: datetime, until: datetime | None):
    qs = CallStat.objects.filter(hour__gte=since)
    if until is not None:
        qs = qs.filter(hour__lt=until)
    return qs


__all__ = ["calls_per_credential_kind", "legacy_calls_per_week", "points_per_hour_per_pool"]
