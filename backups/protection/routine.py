"""What beat does for protection (``backups.protection.tasks`` calls these, one each):

* ``protection_sweep`` — every minute: job outcomes in, states recomputed, incidents followed;
* ``migration_reminders_send_due`` — hourly: the migration campaign's reminders on their cadence;
* ``grants_last_used_write`` — hourly: each vendor grant's "last used", at most once an hour;
* ``weekly_reports_send`` — weekly: the protection report to tenants who asked for it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from backups.models import BackupJob, RestoreJob
from backups.protection.incidents import incidents_follow
from backups.protection.outcomes import outcomes_read
from backups.protection.state import rows_ensure, states_refresh, tally_recount
from tenants.exceptions import DomainError
from tenants.models import OAuthGrant
from tenants.services.campaigns import migration_reminder_send, migration_reminders_due
from tenants.services.grants import grant_mark_used

logger = logging.getLogger(__name__)

# A grant's "last used" moves only when it is older than this (one write per grant per hour).
LAST_USED_RESOLUTION = timedelta(hours=1)


def protection_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Read the job outcomes since the last sweep, recompute every site's state (the database
    returns only the rows that changed) and open or close their incidents; one transaction."""
    now = now or timezone.now()
    with transaction.atomic():
        rows_ensure(None)
        outcomes = outcomes_read(now=now)
        changes = states_refresh(now=now)
        incidents = incidents_follow(changes, now=now)
        tally_recount()
    return {"outcomes": len(outcomes), "changes": len(changes), "incidents": len(incidents)}


def migration_reminders_send_due(*, now: datetime | None = None) -> int:
    """Send every reminder the campaign cadence calls for now (``migration_reminders_due``);
    each is claimed once per case and cadence point, so a second beat sends nothing. A case
    that cannot be reminded (no recipient) is logged and left for staff."""
    sent = 0
    for case, key in migration_reminders_due(now):
        try:
            if migration_reminder_send(case=case, key=key, acting_user=None, now=now) is not None:
                sent += 1
        except DomainError as exc:
            logger.warning("reminder for case %s not sent: %s", case.pk, exc)
    return sent


def grants_last_used_write(*, now: datetime | None = None) -> int:
    """Write each vendor grant's ``last_used_at`` from the jobs that used it in the last hour
    (a backup or restore job of a site on the grant that beat its lease): the tokens are handed
    out many times a minute, so the moment is taken from the job rows, and written only when
    the stored one is older than an hour. Returns the number of grants written."""
    now = now or timezone.now()
    since = now - LAST_USED_RESOLUTION
    used: dict = {}
    for model, site in ((BackupJob, "site"), (RestoreJob, "target_site")):
        rows = (
            model.objects.filter(
                Q(status=model.Status.RUNNING) | Q(finished_at__gte=since),
                heartbeat_at__gte=since,
            )
            .exclude(**{f"{site}__grant": None})
            .values(f"{site}__grant")
            .annotate(last=Max("heartbeat_at"))
            .order_by()
        )
        for row in rows:
            grant_id, last = row[f"{site}__grant"], row["last"]
            used[grant_id] = max(last, used.get(grant_id, last))
    stale = OAuthGrant.objects.filter(pk__in=list(used)).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    )
    written = 0
    for grant in stale.only("pk", "last_used_at"):
        grant_mark_used(grant=grant, at=used[grant.pk])
        written += 1
    return written
