"""The weekly protection report a tenant may ask for (``weekly_report`` in its policy): each
site's state, last successful backup, snapshots, stored size and its trend over the week."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from backups.models import Snapshot
from backups.protection import notify
from backups.protection.policy import policies_for
from backups.protection.state import STATES, SiteRow, site_rows
from tenants.models import JiraSite, Tenant

logger = logging.getLogger(__name__)
WEEK = timedelta(days=7)


@dataclass
class ReportRow:
    row: SiteRow
    week_ago_bytes: int

    @property
    def trend(self) -> str:
        now, before = self.row.stored_bytes, self.week_ago_bytes
        if not before:
            return "new" if now else "—"
        change = round(100 * (now - before) / before)
        return f"{change:+d} %"


def weekly_rows(*, tenant: Tenant, now: datetime | None = None) -> list[ReportRow]:
    now = now or timezone.now()
    rows = site_rows(sites=JiraSite.objects.filter(tenant=tenant))
    week_ago = now - WEEK
    # What was kept a week ago: complete then, and not pruned before then.
    before = dict(
        Snapshot.objects.filter(site__tenant=tenant, completed_at__lte=week_ago)
        .filter(Q(pruned_at__isnull=True) | Q(pruned_at__gt=week_ago))
        .order_by()
        .values("site_id")
        .annotate(size=Sum("bytes_total"), n=Count("pk"))
        .values_list("site_id", "size")
    )
    return [ReportRow(row, before.get(row.site.pk) or 0) for row in rows]


def weekly_report_send(*, tenant: Tenant, now: datetime | None = None) -> int:
    now = now or timezone.now()
    policy = policies_for([tenant.pk])[tenant.pk]
    to = notify.recipients(tenant, policy)
    rows = weekly_rows(tenant=tenant, now=now)
    context = {
        "tenant": tenant,
        "rows": rows,
        "counts": {s: sum(1 for r in rows if r.row.state == s) for s in STATES},
        "page_url": notify.page_url(tenant),
        "week_start": now - WEEK,
        "now": now,
    }
    return notify.send(
        f"Your Jira backups this week: {tenant.name}", "protection_weekly", context, to
    )


def weekly_reports_send(*, now: datetime | None = None) -> int:
    """Send the report to every active tenant whose policy asks for it. Returns messages sent."""
    now = now or timezone.now()
    tenants = list(
        Tenant.objects.filter(status=Tenant.Status.ACTIVE, sites__isnull=False).distinct()
    )
    policies = policies_for([t.pk for t in tenants])
    sent = 0
    for tenant in tenants:
        if not policies[tenant.pk].weekly_report:
            continue
        try:
            sent += weekly_report_send(tenant=tenant, now=now)
        except Exception:  # one tenant's mail problem must not stop the others
            logger.exception("weekly protection report of tenant %s not sent", tenant.pk)
    return sent
