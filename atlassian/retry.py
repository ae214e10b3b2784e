"""How long to wait before trying again, following Atlassian's rate-limit guidance.

``Retry-After`` is the minimum wait when Atlassian sends one; otherwise exponential backoff
from 2 s doubling to a 30 s cap, with jitter x[0.7, 1.3]; about 4 retries. Sleep, clock and
the base are injectable so tests run fast and can still check the waits that were honoured.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass
class RetryPolicy:
    max_retries: int = 4
    base: float = 2.0
    cap: float = 30.0
    jitter: tuple[float, float] = (0.7, 1.3)
    # Retry-After is honoured in full; a little extra spread keeps workers from stampeding.
    retry_after_spread: float = 0.1
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Wait before retry number ``attempt`` (1-based) when Atlassian gave no Retry-After."""
        raw = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        return raw * self.rng.uniform(*self.jitter)

    def wait_for(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None and retry_after >= 0:
            return retry_after * (1 + self.rng.uniform(0, self.retry_after_spread))
        return self.backoff(attempt)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or an HTTP date); None when absent/garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_reset(value: str | None) -> float | None:
    """Epoch seconds from ``X-RateLimit-Reset`` (ISO-8601); None when absent/garbled."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


__all__ = ["RetryPolicy", "parse_reset", "parse_retry_after"]
