"""Admission of every request to Atlassian against the shared points budget.

Nothing reaches a points pool outside the budget: ``BaseClient._request`` asks its
``Admission`` before every send. A request draws on the points its client already holds
(``credit``: what the job driver reserved for the unit being run, or what earlier requests
reserved and did not spend); when the credit does not cover the request's estimate
(``atlassian.costs.estimate_points``) the admission reserves the difference in the pool at the
client's priority (``PointsBudget.try_spend``), or refuses with ``BudgetExhausted`` — nothing is
sent — when the pool's hour has no room for that priority.

After the answer the credit is corrected by what the request really cost. What is left is
given back when the client closes (``settle``); the job driver takes the extra a unit
reserved (``close_unit``) and corrects the unit's reservation itself.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from atlassian.exceptions import BudgetExhausted
from atlassian.ratelimit import (
    INTERACTIVE,
    PRIORITIES,
    PointsBudget,
    budget_clock,
    default_budget,
    hour_start,
)

# A refused request is worth asking again this soon: reservations are given back as units end.
RECHECK_SECONDS = 60.0

# Requests admitted in this process, per site cloud id (tests compare it with what Atlassian
# saw: every request that reached a pool was admitted).
admitted: Counter[str] = Counter()


class Admission:
    """One client's admission: its priority and the points it holds in its pool."""

    def __init__(
        self,
        *,
        priority: str = INTERACTIVE,
        budget: Callable[[], PointsBudget] = default_budget,
        clock: Callable[[], float] = budget_clock,
    ) -> None:
        if priority not in PRIORITIES:
            raise ValueError(f"unknown priority {priority!r}: one of {', '.join(PRIORITIES)}")
        self.priority = priority
        self._budget_factory = budget
        self._budget: PointsBudget | None = None
        self.clock = clock
        self._lock = threading.Lock()
        # {pool: points reserved and not spent yet (negative: spent more than reserved)}
        self.credit: dict[str, int] = {}
        # {pool: points this admission reserved itself since the last close_unit}
        self.extra: dict[str, int] = {}
        self.requests = 0

    @property
    def budget(self) -> PointsBudget:
        if self._budget is None:
            self._budget = self._budget_factory()
        return self._budget

    def fund(self, pool: str, points: int) -> None:
        """Points the caller already reserved in ``pool`` for this client's next requests."""
        with self._lock:
            self.credit[pool] = self.credit.get(pool, 0) + points

    def before(self, *, pool: str, site: str, estimate: int, family: str, method: str) -> None:
        """Admit one request (its ``estimate`` is earmarked) or raise ``BudgetExhausted``."""
        with self._lock:
            have = self.credit.get(pool, 0)
            if have < estimate:
                need = estimate - have
                hour = hour_start(self.clock())
                admitted_now = self.budget.try_spend(pool, need, hour=hour, priority=self.priority)
                if not admitted_now and self.priority == INTERACTIVE:
                    # Like Atlassian's own quota, the last request of the hour may cross the
                    # line: work a person waits for takes what is left of the pool.
                    need = self.budget.remaining(pool, hour=hour)
                    admitted_now = need > 0 and self.budget.try_spend(
                        pool, need, hour=hour, priority=INTERACTIVE
                    )
                if not admitted_now:
                    wait = self._wait()
                    raise BudgetExhausted(
                        f"the {pool} pool's points for this hour are taken "
                        f"({self.priority} work); trying again in {wait:.0f} s",
                        retry_after=wait,
                        reason="points-budget",
                        pool=pool,
                        endpoint=family,
                        method=method,
                    )
                self.extra[pool] = self.extra.get(pool, 0) + need
                have += need
            self.credit[pool] = have - estimate
            self.requests += 1
        admitted[site] += 1

    def after(self, *, pool: str, estimate: int, points: int) -> None:
        """Correct the earmark of an answered (or failed) request to what it cost."""
        with self._lock:
            self.credit[pool] = self.credit.get(pool, 0) + estimate - points

    def close_unit(self) -> dict[str, int]:
        """Forget the credit and return ``{pool: points reserved here}`` since the last call:
        the job driver corrects the unit's whole reservation from what it spent."""
        with self._lock:
            extra, self.extra, self.credit = self.extra, {}, {}
        return extra

    def settle(self) -> None:
        """Give back what is held and not spent (or add what was spent beyond the earmarks)."""
        with self._lock:
            credit, self.credit, self.extra = self.credit, {}, {}
        hour = hour_start(self.clock())
        for pool, points in credit.items():
            if points:
                self.budget.force(pool, -points, hour=hour)

    def _wait(self) -> float:
        now = self.clock()
        to_next_hour = hour_start(now).timestamp() + 3600 - now
        return max(1.0, min(RECHECK_SECONDS, to_next_hour))


__all__ = ["Admission", "BudgetExhausted", "admitted"]
