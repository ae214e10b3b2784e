"""Backup engine knobs. Read from Django settings when present, else from the environment
(validated by ``kit.env``), with defaults that suit production.

TODO(settings owner): move these into portal/settings.py and the README table.
"""

from __future__ import annotations

from django.conf import settings

from kit.env import Env

_env = Env()


def _int(name: str, default: int, minimum: int = 0) -> int:
    value = getattr(settings, name, None)
    if value is not None:
        return int(value)
    return _env.int(name, default, minimum=minimum)


def lease_seconds() -> int:
    """How long a claimed job may go without a heartbeat before the reaper takes it back."""
    return _int("BACKUPS_LEASE_SECONDS", 300, minimum=1)


def slice_seconds() -> int:
    """How long one task execution works before re-queueing itself (fairness between jobs)."""
    return _int("BACKUPS_SLICE_SECONDS", 120, minimum=1)


def overlap_minutes() -> int:
    """Safety overlap of incremental backups: re-read issues updated this long before the
    previous snapshot started (Jira's search is eventually consistent)."""
    return _int("BACKUPS_INCREMENTAL_OVERLAP_MINUTES", 15, minimum=0)


def max_attempts() -> int:
    """Transient failures (5xx, timeouts, database errors) a job survives *in a row* before it
    fails; every committed unit of work resets the count."""
    return _int("BACKUPS_MAX_TRANSIENT_FAILURES", 25, minimum=1)


def restore_settle_seconds() -> int:
    """How long after an unanswered create the target's search is trusted to show the issue
    (Jira's search is eventually consistent)."""
    return _int("RESTORE_SEARCH_SETTLE_SECONDS", 30, minimum=0)


def compact_after_layers() -> int:
    """Beat compacts a site whose newest snapshot merges this many issue layers or more (a full
    and N - 1 incrementals): the chain a restore or a verification reads stays below it."""
    return _int("BACKUPS_COMPACT_AFTER_LAYERS", 8, minimum=2)


def compactions_per_pass() -> int:
    """Compactions beat queues per pass (hourly)."""
    return _int("BACKUPS_COMPACTIONS_PER_PASS", 200, minimum=1)


def page_size() -> int:
    return _int("BACKUPS_ISSUE_PAGE_SIZE", 100, minimum=1)


def client_factory() -> str:
    return getattr(settings, "BACKUPS_CLIENT_FACTORY", "") or _env.str(
        "BACKUPS_CLIENT_FACTORY", "tenants.access.jira_client_for_site"
    )


def clock():
    """Epoch seconds for the points budget's hours (``BACKUPS_CLOCK``: a dotted path to a
    callable; benchmarks point it at the sandbox's accelerated clock)."""
    from atlassian.ratelimit import budget_clock

    return budget_clock()


def restore_provenance() -> bool:
    """Whether each restored comment and worklog starts with "Originally by NAME on DATE"."""
    value = getattr(settings, "RESTORE_PROVENANCE", None)
    if value is not None:
        return bool(value)
    return _env.bool("RESTORE_PROVENANCE", True)
