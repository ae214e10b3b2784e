"""What "overdue" means, computed the plain way from the sites, their schedules and their
snapshots, for the tests of the dashboard's figure and its changelist filter (both read the
schedule's stored ``overdue_at``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from backups.models import BackupSchedule, Snapshot
from backups.services import OVERDUE_INTERVALS
from tenants.models import JiraSite


def overdue_from_the_snapshots(now: datetime) -> set[int]:
    """Active sites with an enabled schedule whose newest complete snapshot is older than
    ``OVERDUE_INTERVALS`` of its interval, or that were never backed up."""
    overdue = set()
    schedules = BackupSchedule.objects.filter(enabled=True).select_related("site")
    for schedule in schedules:
        if schedule.site.status != JiraSite.Status.ACTIVE:
            continue
        newest = (
            Snapshot.objects.filter(site=schedule.site, status=Snapshot.Status.COMPLETE)
            .order_by("-completed_at")
            .values_list("completed_at", flat=True)
            .first()
        )
        window = timedelta(hours=schedule.interval_hours * OVERDUE_INTERVALS)
        if newest is None or newest < now - window:
            overdue.add(schedule.site_id)
    return overdue
