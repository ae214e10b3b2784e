"""Writes on the call ledger that are not the client's own counting."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from atlassian.models import CallStat

DEFAULT_RETENTION_DAYS = 400


def retention_days() -> int:
    return int(getattr(settings, "ATLASSIAN_LEDGER_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


def call_stats_prune(*, older_than_days: int | None = None, dry_run: bool = False) -> int:
    """Delete ledger rows whose hour is more than ``older_than_days`` ago; returns how many
    rows were (or, with ``dry_run``, would be) deleted."""
    days = retention_days() if older_than_days is None else older_than_days
    if days < 1:
        raise ValueError("older_than_days must be at least 1")
    cutoff = timezone.now() - timedelta(days=days)
    rows = CallStat.objects.filter(hour__lt=cutoff)
    if dry_run:
        return rows.count()
    deleted, _ = rows.delete()
    return deleted
