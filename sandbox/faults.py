"""Fault injection: what a test wants to go wrong, decided per request.

Randomness is seeded so that a flaky-looking scenario (20 % of requests answered 429) replays
identically run after run.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    """What the server must do instead of (or before) answering normally."""

    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False
    body: dict | None = None
    # "html" (a maintenance page) or "truncated" (cut-off JSON), answered with 200.
    garbled: str | None = None


@dataclass
class _ErrorRate:
    fraction: float
    statuses: tuple[int, ...]
    rng: random.Random
    path_prefix: str | None
    retry_after: int


@dataclass
class _Counted:
    remaining: int
    path_prefix: str | None
    status: int = 503


@dataclass
class Faults:
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rates: list[_ErrorRate] = field(default_factory=list)
    _slow: list[tuple[float, str | None]] = field(default_factory=list)
    _drops: list[_Counted] = field(default_factory=list)
    _token_failures: list[_Counted] = field(default_factory=list)
    _errors_next: list[_Counted] = field(default_factory=list)
    _garbled: list[tuple[_Counted, str]] = field(default_factory=list)
    _omit_refresh: int = 0

    def error_rate(
        self,
        fraction: float,
        statuses: tuple[int, ...] | list[int] = (429, 503),
        seed: int = 0,
        path_prefix: str | None = None,
        retry_after: int = 2,
    ) -> None:
        """Answer `fraction` of matching requests with one of `statuses` (seeded-random)."""
        with self._lock:
            self._rates.append(
                _ErrorRate(fraction, tuple(statuses), random.Random(seed), path_prefix, retry_after)
            )

    def storm_429(self, fraction: float = 0.5, retry_after: int = 2, seed: int = 0) -> None:
        self.error_rate(fraction, statuses=(429,), seed=seed, retry_after=retry_after)

    def slow(self, seconds: float, path_prefix: str | None = None) -> None:
        with self._lock:
            self._slow.append((seconds, path_prefix))

    def drop_connections(self, n: int, path_prefix: str | None = None) -> None:
        """Close the next `n` matching connections without sending any response."""
        with self._lock:
            self._drops.append(_Counted(n, path_prefix))

    def fail_next_requests(self, n: int, status: int = 503, path_prefix: str | None = None) -> None:
        with self._lock:
            self._errors_next.append(_Counted(n, path_prefix, status))

    def garble_next_responses(
        self, n: int, kind: str = "html", path_prefix: str | None = None
    ) -> None:
        """Answer the next `n` matching requests 200 with an unreadable body: `html` (a proxy's
        maintenance page) or `truncated` (JSON cut off mid-way). Nothing is done."""
        with self._lock:
            self._garbled.append((_Counted(n, path_prefix), kind))

    def fail_token_endpoint(self, n: int, status: int = 503) -> None:
        """The next `n` calls to POST /oauth/token answer `status` without touching any token."""
        with self._lock:
            self._token_failures.append(_Counted(n, None, status))

    fail_next_token_requests = fail_token_endpoint

    def omit_refresh_token(self, n: int = 1) -> None:
        """The next `n` successful refreshes answer without `refresh_token` and do not rotate:
        the client must keep using the one it has."""
        with self._lock:
            self._omit_refresh += n

    def take_omit_refresh(self) -> bool:
        with self._lock:
            if self._omit_refresh > 0:
                self._omit_refresh -= 1
                return True
            return False

    def clear(self) -> None:
        with self._lock:
            self._rates.clear()
            self._slow.clear()
            self._drops.clear()
            self._token_failures.clear()
            self._errors_next.clear()
            self._garbled.clear()
            self._omit_refresh = 0

    def summary(self) -> dict:
        with self._lock:
            return {
                "error_rates": [
                    {"fraction": r.fraction, "statuses": r.statuses, "path_prefix": r.path_prefix}
                    for r in self._rates
                ],
                "slow": [{"seconds": s, "path_prefix": p} for s, p in self._slow],
                "drops_pending": sum(d.remaining for d in self._drops),
                "token_failures_pending": sum(d.remaining for d in self._token_failures),
                "failures_pending": sum(d.remaining for d in self._errors_next),
                "omit_refresh_token_pending": self._omit_refresh,
            }

    def decide(self, path: str, is_token_endpoint: bool = False) -> Fault | None:
        """The fault (if any) for one request; consumes counted faults."""
        fault = Fault()
        hit = False
        with self._lock:
            for seconds, prefix in self._slow:
                if _matches(path, prefix):
                    fault.delay = max(fault.delay, seconds)
                    hit = True
            if _take(self._drops, path):
                fault.drop = True
                return fault
            if is_token_endpoint:
                counted = _take(self._token_failures, path)
                if counted is not None:
                    fault.status = counted.status
                    return fault
            counted = _take(self._errors_next, path)
            if counted is not None:
                fault.status = counted.status
                return fault
            for garble, kind in self._garbled:
                if _take([garble], path) is not None:
                    fault.garbled = kind
                    return fault
            for rate in self._rates:
                if _matches(path, rate.path_prefix) and rate.rng.random() < rate.fraction:
                    fault.status = rate.rng.choice(rate.statuses)
                    fault.retry_after = rate.retry_after
                    return fault
        return fault if hit else None


def _matches(path: str, prefix: str | None) -> bool:
    return prefix is None or path.startswith(prefix)


def _take(counters: list[_Counted], path: str) -> _Counted | None:
    for counted in counters:
        if counted.remaining > 0 and _matches(path, counted.path_prefix):
            counted.remaining -= 1
            return counted
    return None
