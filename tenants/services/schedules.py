"""Tell the apps that keep something about a site (the backups app keeps a copy of its pool and
status on its schedule, and gives a connected site its protection policy) that sites changed.
Every tenants service that creates a site or changes its credential or status calls
``schedules_follow`` in the same transaction, with the changed sites locked; tenants knows
nothing of what the receivers do (``tenants.signals``)."""

from __future__ import annotations

from collections.abc import Iterable

from tenants.signals import REASONS, sites_changed


def schedules_follow(site_ids: Iterable[int], *, reason: str = "changed") -> None:
    """Announce that these sites changed (``tenants.signals.sites_changed``), and why."""
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    ids = sorted(set(site_ids))
    if ids:
        sites_changed.send(sender=None, site_ids=ids, reason=reason)
