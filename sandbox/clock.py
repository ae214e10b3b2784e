"""The sandbox clock: wall time plus an offset that tests can move forward.

Expiries (codes, tokens, reuse interval) and hourly quota resets all read this clock, so a test
can jump 90 days or to the next hour instantly instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at: float | None = None
        if start is not None:
            self._offset = start.timestamp() - time.time()

    def time(self) -> float:
        """Seconds since the epoch on the sandbox clock."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def ms(self) -> int:
        return int(self.time() * 1000)

    def advance(
        self, seconds: float = 0, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> datetime:
        delta = seconds + minutes * 60 + hours * 3600 + days * 86400
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += delta
            else:
                self._offset += delta
        return self.now()

    def to_next_hour(self) -> datetime:
        """Jump to the top of the next UTC hour, when hourly quotas reset."""
        now = self.time()
        return self.advance(seconds=(int(now // 3600) + 1) * 3600 - now)

    def set(self, when: datetime) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = when.timestamp()
            else:
                self._offset = when.timestamp() - time.time()
        return self.now()

    def freeze(self) -> None:
        """Stop time (useful to test burst buckets deterministically)."""
        now = self.time()
        with self._lock:
            self._frozen_at = now

    def unfreeze(self) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
                self._frozen_at = None

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._frozen_at = None


def hour_start(ts: float) -> float:
    return float(int(ts // 3600) * 3600)


# "HH:MM:SS" for every second of a day and ".mmm+0000" for every millisecond: iso() is on the
# hot path of issue generation (dozens per issue), so it is two divmods and three lookups.
_CLOCK = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
_MILLIS = [f".{n:03d}+0000" for n in range(1000)]
_DAY_PREFIX: dict[int, str] = {}


def iso(ts: float, _prefix=_DAY_PREFIX.get, _clock=_CLOCK, _millis=_MILLIS) -> str:
    """Jira's timestamp format: 2024-01-31T10:20:30.000+0000."""
    ms = int(ts * 1000)
    days = ms // 86_400_000
    rest = ms - days * 86_400_000
    return f"{_prefix(days) or day_prefix(days)}{_clock[rest // 1000]}{_millis[rest % 1000]}"


def day_prefix(days: int) -> str:
    """ "2024-01-31T" for a day number since the epoch (memoized in _DAY_PREFIX)."""
    t = time.gmtime(days * 86400)
    prefix = _DAY_PREFIX[days] = f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}T"
    return prefix


def iso_z(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms_z(ts: float) -> str:
    """Jira Software's sprint dates: 2024-01-31T10:20:30.000Z."""
    return iso(ts)[:-5] + "Z"


_DAYS: dict[int, str] = {}


def day(ts: float) -> str:
    days = int(ts // 86400)
    text = _DAYS.get(days)
    if text is None:
        t = time.gmtime(days * 86400)
        text = _DAYS[days] = f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"
    return text


__all__ = ["Clock", "day", "hour_start", "iso", "iso_ms_z", "iso_z"]
