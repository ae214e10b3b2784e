"""Keeping under Atlassian's per-issue write limits (20 per 2 s and 100 per 30 s on one issue)
instead of running into them: each write to an issue is spaced by a local sliding window a little
below the limits, and the executor interleaves the writes of many issues so the spacing rarely
means waiting."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import TypeVar

# (window seconds, writes allowed), a margin under Atlassian's 20/2 s and 100/30 s.
W = TypeVar("W")

DEFAULT_WINDOWS: tuple[tuple[float, int], ...] = ((2.0, 16), (30.0, 85))


class IssueWritePacer:
    def __init__(
        self,
        windows: tuple[tuple[float, int], ...] = DEFAULT_WINDOWS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.windows = windows
        self.clock = clock
        self.sleep = sleep
        self._stamps: dict[str, deque[float]] = defaultdict(deque)
        self.waited = 0.0

    def wait_time(self, key: str) -> float:
        """Seconds until one more write to ``key`` stays inside every window."""
        now = self.clock()
        stamps = self._stamps[key]
        longest = max(w for w, _ in self.windows)
        while stamps and stamps[0] <= now - longest:
            stamps.popleft()
        wait = 0.0
        for window, limit in self.windows:
            inside = [t for t in stamps if t > now - window]
            if len(inside) >= limit:
                # Margin of 50 ms so the server's window has also moved on.
                wait = max(wait, inside[len(inside) - limit] + window - now + 0.05)
        return wait

    def record(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            self._stamps[key].append(now)

    def acquire(self, *keys: str) -> None:
        """Wait until a write to every key fits, then count it."""
        while True:
            wait = max((self.wait_time(k) for k in keys), default=0.0)
            if wait <= 0:
                break
            self.waited += wait
            self.sleep(wait)
        self.record(*keys)


def interleave(
    pacer: IssueWritePacer,
    queues: list[tuple[str, list[W]]],
    run: Callable[[int, W], None],
    tick: Callable[[], None] | None = None,
) -> None:
    """Run each issue's writes in order, one write per issue per round (round robin, so one
    issue's spacing never stalls the others), each spaced by ``pacer``. ``queues``: (issue
    key, its writes); ``run(index, write)`` runs one write of ``queues[index]``; ``tick``
    after each round (a lease heartbeat)."""
    pending = [(index, key, list(writes)) for index, (key, writes) in enumerate(queues) if writes]
    while pending:
        ready = [entry for entry in pending if pacer.wait_time(entry[1]) <= 0]
        if not ready:
            wait = min(pacer.wait_time(key) for _index, key, _writes in pending)
            pacer.sleep(max(0.01, wait))
            continue
        for index, key, writes in ready:
            write = writes.pop(0)
            pacer.acquire(key)
            run(index, write)
        pending = [entry for entry in pending if entry[2]]
        if tick is not None:
            tick()
