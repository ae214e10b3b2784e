"""What the backups app keeps about a site: its backup schedule carries a copy of the site's
credential (as the rate-limit pool its backups draw on) and status, so the quota planner reads
the schedules alone. Every tenants service that changes either calls ``schedules_follow`` in
the same transaction, with the changed sites locked."""

from __future__ import annotations

from collections.abc import Iterable


def schedules_follow(site_ids: Iterable[int]) -> None:
    """Bring the schedules of these sites in line with their credential and status."""
    # Imported here: the backups app builds on tenants, not the other way round.
    from backups.services import schedules_follow_sites

    schedules_follow_sites(site_ids=site_ids)
