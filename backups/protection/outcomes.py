"""THE place where backup job outcomes reach protection: a beat pass reads the job rows that
finished since its last pass (succeeded, failed) and the jobs paused for re-authorization, and
notes each site's newest outcome on its ``SiteProtection`` row. The engine is not touched: it
writes job rows as it always did, and this pass reads them (the index ``backupjob_status_
finished``), so the cost of a pass grows with the jobs that ended, not with all jobs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from backups.models import BackupJob, ProtectionCursor, SiteProtection

O = SiteProtection.Outcome  # noqa: E741
# Re-read this much before the last pass: a job may commit its end with a finished_at taken
# just before our previous read's snapshot of the table.
OVERLAP = timedelta(minutes=10)
# The very first pass reads no further back than this.
FIRST_LOOKBACK = timedelta(days=30)
# A failure naming a missing permission pauses the site (someone must grant it) rather than
# counting as a failing backup (``backups.engine`` writes this prefix for Atlassian's 403).
PERMISSION_PREFIX = "permission missing"


def outcome_of(status: str, reason: str) -> str:
    if status == BackupJob.Status.SUCCEEDED:
        return O.SUCCEEDED
    if status == BackupJob.Status.PAUSED_NEEDS_REAUTH:
        return O.PAUSED
    if reason.startswith(PERMISSION_PREFIX):
        return O.PERMISSION
    return O.FAILED


def outcomes_read(*, now: datetime | None = None, site_ids=None) -> set[int]:
    """Note the newest outcome of every site whose jobs ended since the last pass (or of
    ``site_ids``, whatever the cursor says). Returns the ids of the sites whose row changed."""
    now = now or timezone.now()
    cursor, _ = ProtectionCursor.objects.get_or_create(name="outcomes")
    since = (cursor.until - OVERLAP) if cursor.until else now - FIRST_LOOKBACK
    ended = BackupJob.objects.filter(
        status__in=[BackupJob.Status.SUCCEEDED, BackupJob.Status.FAILED]
    )
    ended = (
        ended.filter(site_id__in=site_ids)
        if site_ids is not None
        else ended.filter(finished_at__gte=since)
    )
    newest: dict[int, tuple[datetime, str, str]] = {}
    for site_id, status, finished, reason in ended.order_by("finished_at").values_list(
        "site_id", "status", "finished_at", "status_reason"
    ):
        if finished is not None:
            newest[site_id] = (finished, outcome_of(status, reason), reason)
    paused = BackupJob.objects.filter(status=BackupJob.Status.PAUSED_NEEDS_REAUTH)
    paused_sites = set()
    for site_id, updated, reason in paused.values_list("site_id", "updated_at", "status_reason"):
        paused_sites.add(site_id)
        if site_id not in newest or newest[site_id][0] < updated:
            newest[site_id] = (updated, O.PAUSED, reason)
    changed: set[int] = set()
    rows = SiteProtection.objects.filter(
        Q(site_id__in=list(newest)) | Q(last_outcome=O.PAUSED)
    ).only("pk", "site_id", "last_outcome", "last_outcome_at", "last_outcome_reason")
    batch = []
    for row in rows:
        seen = newest.get(row.site_id)
        if seen is None:
            if row.last_outcome == O.PAUSED and row.site_id not in paused_sites:
                # Resumed since (re-authorized): the next outcome will tell.
                row.last_outcome, row.last_outcome_reason = O.NONE, ""
            else:
                continue
        else:
            at, outcome, reason = seen
            if row.last_outcome_at is not None and row.last_outcome_at > at:
                continue
            if (row.last_outcome, row.last_outcome_at) == (outcome, at):
                continue
            row.last_outcome, row.last_outcome_at, row.last_outcome_reason = (
                outcome,
                at,
                reason[:500],
            )
        batch.append(row)
        changed.add(row.site_id)
    SiteProtection.objects.bulk_update(
        batch, ["last_outcome", "last_outcome_at", "last_outcome_reason"], batch_size=1000
    )
    if site_ids is None:
        ProtectionCursor.objects.filter(pk=cursor.pk).update(until=now)
    return changed
