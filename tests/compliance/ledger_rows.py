"""Ledger rows for report tests that need no traffic: written the way the client writes them."""

from __future__ import annotations

from datetime import datetime

from atlassian.ledger import CallLedger


def record_calls(
    at: datetime,
    *,
    site: str,
    kind: str = "vendor_grant",
    pool: str = "global",
    family: str = "search/jql",
    status: str = "2xx",
    requests: int = 1,
    points: int = 1,
) -> None:
    ledger = CallLedger(batch_size=10**9, interval_seconds=10**9, budget=lambda: None)
    for _ in range(requests):
        ledger.record(
            site_cloud_id=site,
            pool=pool,
            credential_kind=kind,
            endpoint_family=family,
            status_class=status,
            points=points,
            at=at.timestamp(),
        )
    ledger.flush()
