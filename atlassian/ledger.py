"""The outbound call ledger: every request to Atlassian, counted per UTC hour x site x pool x
credential kind x endpoint family x status class, with the points it cost.

The backup hot path must not pay a database write per request, so the client only adds to an
in-memory, thread-safe buffer; the buffer is written in one upsert statement per batch (every
~200 requests or ~5 s, at ``client.close()``, at the end of each Celery task and at process
exit). The same flush feeds the points actually spent into the shared ``PointsBudget``.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.dispatch import receiver

from atlassian.ratelimit import PointsBudget, default_budget, hour_start

logger = logging.getLogger(__name__)

_KEY_COLUMNS = (
    "hour",
    "site_cloud_id",
    "pool",
    "credential_kind",
    "endpoint_family",
    "status_class",
)
# 8 parameters per row keeps a chunk under SQLite's older 999-variable limit.
_ROWS_PER_STATEMENT = 100


@dataclass(frozen=True)
class LedgerKey:
    hour: datetime
    site_cloud_id: str
    pool: str
    credential_kind: str
    endpoint_family: str
    status_class: str


class CallLedger:
    def __init__(
        self,
        *,
        batch_size: int = 200,
        interval_seconds: float = 5.0,
        budget: Callable[[], PointsBudget | None] = default_budget,
        using: str = DEFAULT_DB_ALIAS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.batch_size = batch_size
        # Which UTC hour a request counts in. Tests and replays may point it at another clock
        # (the sandbox's), so the ledger's hours line up with the far side's log.
        self.clock = clock
        self.interval_seconds = interval_seconds
        self.budget = budget
        self.using = using
        self._lock = threading.Lock()
        self._counts: dict[LedgerKey, list[int]] = defaultdict(lambda: [0, 0])
        self._unflushed = 0
        self._last_flush = time.monotonic()
        self._hour_cache: tuple[int, datetime | None] = (-1, None)

    def record(
        self,
        *,
        site_cloud_id: str,
        pool: str,
        credential_kind: str,
        endpoint_family: str,
        status_class: str,
        points: int,
        at: float | None = None,
    ) -> None:
        """Count one request (cheap: a dict update under a lock, sometimes a flush)."""
        if not recording_enabled():
            return
        key = LedgerKey(
            self._hour(self.clock() if at is None else at),
            site_cloud_id or "",
            pool or "",
            credential_kind,
            endpoint_family,
            status_class,
        )
        with self._lock:
            entry = self._counts[key]
            entry[0] += 1
            entry[1] += points
            self._unflushed += 1
            due = (
                self._unflushed >= self.batch_size
                or time.monotonic() - self._last_flush >= self.interval_seconds
            )
        if due:
            self.flush(quiet=True)

    def _hour(self, when: float) -> datetime:
        # Building the hour's datetime is most of record()'s cost; it changes once an hour.
        # One tuple attribute, swapped whole, so threads never see a mismatched pair.
        bucket = int(when // 3600)
        cached = self._hour_cache
        if cached[0] != bucket:
            cached = (bucket, hour_start(bucket * 3600))
            self._hour_cache = cached
        return cached[1]

    def pending(self) -> dict[LedgerKey, tuple[int, int]]:
        """What is buffered and not yet written: key -> (requests, points)."""
        with self._lock:
            return {k: (v[0], v[1]) for k, v in self._counts.items()}

    def discard(self) -> None:
        """Drop the buffer without writing it (tests)."""
        with self._lock:
            self._counts.clear()
            self._unflushed = 0

    def flush(self, *, quiet: bool = False) -> int:
        """Write the buffer; returns the number of ledger rows touched.

        With ``quiet`` a failure is logged and the counts are kept for the next flush: the
        ledger must never break a request or a task.
        """
        with self._lock:
            batch = {k: (v[0], v[1]) for k, v in self._counts.items()}
            self._counts.clear()
            self._unflushed = 0
            self._last_flush = time.monotonic()
        if not batch:
            return 0
        try:
            write_call_stats(batch.items(), using=self.using)
        except Exception:
            self._restore(batch)
            if not quiet:
                raise
            logger.warning("call ledger flush failed; keeping %d rows for later", len(batch))
            return 0
        self._feed_budget(batch)
        return len(batch)

    def _restore(self, batch: dict[LedgerKey, tuple[int, int]]) -> None:
        with self._lock:
            for key, (requests, points) in batch.items():
                entry = self._counts[key]
                entry[0] += requests
                entry[1] += points

    def _feed_budget(self, batch: dict[LedgerKey, tuple[int, int]]) -> None:
        spent: dict[tuple[str, datetime], int] = defaultdict(int)
        for key, (_requests, points) in batch.items():
            if key.pool and points:
                spent[(key.pool, key.hour)] += points
        if not spent:
            return
        try:
            budget = self.budget()
            if budget is not None:
                budget.record_spent_many(spent)
        except Exception:  # counting must never break the caller
            logger.warning("could not add spent points to the budget", exc_info=True)


def write_call_stats(
    rows: Iterable[tuple[LedgerKey, tuple[int, int]]], *, using: str = DEFAULT_DB_ALIAS
) -> None:
    """One ``INSERT ... ON CONFLICT DO UPDATE`` (increment) per chunk of rows.

    ``bulk_create(update_conflicts=True)`` can only overwrite, not add, hence the raw SQL; it
    is valid on PostgreSQL and on SQLite >= 3.24.
    """
    from atlassian.models import CallStat

    connection = connections[using]
    qn = connection.ops.quote_name
    table = qn(CallStat._meta.db_table)
    columns = [*_KEY_COLUMNS, "requests", "points"]
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    # A fixed order, so two workers upserting overlapping keys cannot deadlock each other.
    rows = sorted(rows, key=lambda row: _sort_key(row[0]))
    with transaction.atomic(using=using):
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start : start + _ROWS_PER_STATEMENT]
            params: list[object] = []
            for key, (requests, points) in chunk:
                params += [
                    connection.ops.adapt_datetimefield_value(key.hour),
                    key.site_cloud_id,
                    key.pool,
                    key.credential_kind,
                    key.endpoint_family,
                    key.status_class,
                    requests,
                    points,
                ]
            # Only quoted identifiers and placeholders are interpolated; values are parameters.
            sql = (
                f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608
                f"VALUES {', '.join([placeholder] * len(chunk))} "
                f"ON CONFLICT ({', '.join(qn(c) for c in _KEY_COLUMNS)}) DO UPDATE SET "
                f"{qn('requests')} = {table}.{qn('requests')} + EXCLUDED.{qn('requests')}, "
                f"{qn('points')} = {table}.{qn('points')} + EXCLUDED.{qn('points')}"
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, params)


def _sort_key(key: LedgerKey) -> tuple:
    return (
        key.hour,
        key.site_cloud_id,
        key.pool,
        key.credential_kind,
        key.endpoint_family,
        key.status_class,
    )


_enabled: list[bool] = []  # the setting, read once (a missing setting costs an exception)


def recording_enabled() -> bool:
    """``ATLASSIAN_LEDGER_ENABLED`` (default on). Off only to measure what the ledger costs
    (``bench/ledger_bench.py``): with it off there is no compliance evidence. Read once;
    ``override_settings`` (and pytest-django's ``settings``) make it read again."""
    if not _enabled:
        _enabled.append(bool(getattr(settings, "ATLASSIAN_LEDGER_ENABLED", True)))
    return _enabled[0]


@receiver(setting_changed)
def _forget_enabled(*, setting: str, **_kwargs) -> None:
    if setting == "ATLASSIAN_LEDGER_ENABLED":
        _enabled.clear()


# The process-wide ledger every client records into.
ledger = CallLedger()


def flush() -> int:
    """Write whatever the process-wide ledger holds (never raises)."""
    try:
        return ledger.flush(quiet=True)
    except DatabaseError:
        return 0


atexit.register(flush)

__all__ = [
    "CallLedger",
    "LedgerKey",
    "flush",
    "ledger",
    "recording_enabled",
    "write_call_stats",
]
