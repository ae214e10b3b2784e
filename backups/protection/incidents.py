"""Incidents: rows that say a site was not protected, from when it was noticed until it
recovered, and who was told.

A site entering failing, overdue or paused opens an incident (one open per site: moving between
those states updates it); the tenant's recipients get one e-mail for it, unless they already got
one about the site within a day, or someone else already tells them (``_told_elsewhere``: the
grant's re-authorization notice, the migration campaign); its return to protected closes it with a recovery notice (if
the opening was told). Becoming unprotected or disconnected closes it silently: those are not
backups failing but backups stopped, and the pages say so. Staff get every opening and closing
on the webhook. E-mails and the webhook go out after commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from backups.models import Incident, SiteProtection
from backups.protection.state import Change
from tenants.audit import record_event
from tenants.models import JiraSite

S = SiteProtection.State
BAD = {
    S.FAILING: Incident.Kind.FAILING,
    S.OVERDUE: Incident.Kind.OVERDUE,
    S.PAUSED: Incident.Kind.PAUSED,
}
# At most one opening e-mail per site within this long.
NOTICE_GAP = timedelta(days=1)


def _notify_after_commit(incident_id: int, event: str, *, customer: bool) -> None:
    from backups.protection import notify

    def send() -> None:
        if customer:
            notify.incident_email(incident_id=incident_id, event=event)
        notify.incident_webhook(incident_id=incident_id, event=event)

    transaction.on_commit(send)


def incidents_follow(changes: Iterable[Change], *, now: datetime | None = None) -> list[Incident]:
    """Open, update or close the incidents of the sites whose state changed (call it in the
    transaction that wrote the states). Returns the incidents opened or closed."""
    now = now or timezone.now()
    changes = list(changes)
    if not changes:
        return []
    ids = [c.site_id for c in changes]
    open_by_site = {
        i.site_id: i
        for i in Incident.objects.select_for_update().filter(
            site_id__in=ids, status=Incident.Status.OPEN, kind__in=Incident.PROTECTION_KINDS
        )
    }
    told_recently = set(
        Incident.objects.filter(site_id__in=ids, notified_at__gte=now - NOTICE_GAP).values_list(
            "site_id", flat=True
        )
    )
    reasons = {
        p.site_id: p for p in SiteProtection.objects.filter(site_id__in=ids).select_related("site")
    }
    touched = []
    for change in changes:
        incident = open_by_site.get(change.site_id)
        row = reasons.get(change.site_id)
        reason = _reason_of(row)
        if change.after in BAD:
            kind = BAD[change.after]
            if incident is not None:
                if (incident.kind, incident.detail) != (kind, change.detail):
                    incident.kind, incident.detail, incident.reason = kind, change.detail, reason
                    incident.save(update_fields=["kind", "detail", "reason"])
                continue
            told_elsewhere = _told_elsewhere(change, row)
            tell = change.site_id not in told_recently and not told_elsewhere
            incident = Incident.objects.create(
                site_id=change.site_id,
                kind=kind,
                detail=change.detail,
                reason=reason,
                opened_at=now,
                # Told by us now, or by tenants' own notice: either way a recovery notice follows.
                notified_at=now if tell or told_elsewhere == "grant notice" else None,
            )
            _audit(incident, "backup.incident_opened", row)
            _notify_after_commit(incident.pk, "opened", customer=tell)
            touched.append(incident)
        elif incident is not None:
            recovered = change.after == S.PROTECTED
            incident.status, incident.closed_at = Incident.Status.CLOSED, now
            tell = recovered and incident.notified_at is not None
            if tell:
                incident.recovery_notified_at = now
            incident.save(update_fields=["status", "closed_at", "recovery_notified_at"])
            _audit(incident, "backup.incident_closed", row, after=change.after)
            _notify_after_commit(incident.pk, "recovered" if recovered else "closed", customer=tell)
            touched.append(incident)
    return touched


def _told_elsewhere(change: Change, row: SiteProtection | None) -> str:
    """Who already tells the customer about this, so protection does not say it twice: a site
    whose grant needs re-authorization got tenants' notice (``tenants.emails``, once per grant,
    with the same re-authorize link); a legacy site past the cutoff hears from the migration
    campaign (invitations and reminders with the wizard's link)."""
    if change.detail == "legacy_cutoff":
        return "campaign"
    if change.detail == "reauth" and row is not None:
        if row.site.status == JiraSite.Status.NEEDS_REAUTH and row.site.grant_id:
            return "grant notice"
    return ""


def _reason_of(row: SiteProtection | None) -> str:
    if row is None:
        return ""
    if row.state in (S.FAILING, S.PAUSED) and row.last_outcome_reason:
        return row.last_outcome_reason[:500]
    return row.site.status_reason[:500] if row.state == S.PAUSED else ""


def _audit(incident: Incident, action: str, row: SiteProtection | None, **extra) -> None:
    site = (
        row.site
        if row is not None
        else JiraSite.objects.select_related("tenant").get(pk=incident.site_id)
    )
    record_event(
        actor=None,
        action=action,
        target=incident,
        tenant=site.tenant,
        summary={"site": site.cloud_id, "kind": incident.kind, "detail": incident.detail, **extra},
    )


def verification_incident_open(*, site: JiraSite, problems: list[str], now: datetime) -> Incident:
    """A verification failure (``verify_sampling``): one open incident per site, for staff."""
    incident = Incident.objects.filter(
        site=site, kind=Incident.Kind.VERIFICATION, status=Incident.Status.OPEN
    ).first()
    summary = "; ".join(problems[:3])[:500]
    if incident is not None:
        incident.reason = summary
        incident.save(update_fields=["reason"])
        return incident
    incident = Incident.objects.create(
        site=site, kind=Incident.Kind.VERIFICATION, reason=summary, opened_at=now
    )
    record_event(
        actor=None,
        action="backup.incident_opened",
        target=incident,
        tenant=site.tenant,
        summary={"site": site.cloud_id, "kind": incident.kind, "problems": len(problems)},
    )
    _notify_after_commit(incident.pk, "opened", customer=False)
    return incident


def verification_incident_close(*, site: JiraSite, now: datetime) -> None:
    for incident in Incident.objects.filter(
        site=site, kind=Incident.Kind.VERIFICATION, status=Incident.Status.OPEN
    ):
        incident.status, incident.closed_at = Incident.Status.CLOSED, now
        incident.save(update_fields=["status", "closed_at"])
        record_event(
            actor=None,
            action="backup.incident_closed",
            target=incident,
            tenant=site.tenant,
            summary={"site": site.cloud_id, "kind": incident.kind},
        )
        _notify_after_commit(incident.pk, "recovered", customer=False)


def key_incident_open(*, site: JiraSite, reason: str, now: datetime) -> Incident:
    """The tenant's own KMS key is unavailable (backups paused): one open incident per site;
    the customer's contacts and staff are told when it opens."""
    with transaction.atomic():
        incident = Incident.objects.filter(
            site=site, kind=Incident.Kind.KEY, status=Incident.Status.OPEN
        ).first()
        if incident is not None:
            return incident
        incident = Incident.objects.create(
            site=site, kind=Incident.Kind.KEY, reason=reason[:500], opened_at=now
        )
        record_event(
            actor=None,
            action="backup.incident_opened",
            target=incident,
            tenant=site.tenant,
            summary={"site": site.cloud_id, "kind": incident.kind},
        )
        _notify_after_commit(incident.pk, "opened", customer=True)
    return incident


def open_incidents():
    """The open incidents, newest first (the staff dashboard)."""
    return Incident.objects.filter(status=Incident.Status.OPEN).select_related("site__tenant")
