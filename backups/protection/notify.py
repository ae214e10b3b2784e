"""Telling people: the customer's e-mails (an incident opened, a site recovered, the weekly
report) and the staff webhook. Rendered from ``templates/email/protection_*`` (text and HTML
parts); nothing secret goes in: site URLs, states, reasons a support agent can read, links.

Called after commit (``incidents._notify_after_commit``, the weekly task); a failing delivery is
logged and never undoes the incident."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from atlassian.outbound import DeliveryFailed, post_json
from backups.models import Incident
from backups.protection.policy import Policy, policy_for
from backups.protection.state import DETAILS
from tenants.models import JiraSite, Membership, Tenant

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Protection-Signature"


def recipients(tenant: Tenant, policy: Policy | None = None) -> list[str]:
    """The tenant's owners and admins (unless its policy says not) and its extra addresses."""
    policy = policy or policy_for(tenant)
    found: list[str] = []
    if policy.notify_admins:
        found += list(
            Membership.objects.filter(
                tenant=tenant, role__in=Membership.MANAGING_ROLES, user__is_active=True
            )
            .exclude(user__email="")
            .order_by("user__email")
            .values_list("user__email", flat=True)
        )
    found += list(policy.notify_emails)
    return list(dict.fromkeys(e.lower() for e in found))


def _url(name: str, *args) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(name, args=args)


def page_url(tenant: Tenant) -> str:
    return _url("portal:protection", tenant.slug)


def fix_action(site: JiraSite, kind: str, detail: str) -> tuple[str, str]:
    """What fixes it, as (words, link): the customer's one action."""
    slug = site.tenant.slug
    if kind == Incident.Kind.PAUSED and detail == "legacy_cutoff":
        return "Move the site to our Atlassian app", _url("wizard:list", slug)
    if kind == Incident.Kind.PAUSED:
        # The connect flow re-authorizes: a fresh consent repairs the grant and its sites.
        return "Re-authorize access to the site", _url("portal:connect_start", slug)
    if kind == Incident.Kind.KEY:
        return "Enable your AWS KMS key for the backups again", page_url(site.tenant)
    return "See your sites' protection", page_url(site.tenant)


def send(subject: str, template: str, context: dict, to: list[str]) -> int:
    if not to:
        return 0
    text = render_to_string(f"email/{template}.txt", context)
    html = render_to_string(f"email/{template}.html", context)
    messages = []
    for address in to:
        message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [address])
        message.attach_alternative(html, "text/html")
        messages.append(message)
    return get_connection().send_messages(messages) or 0


SUBJECTS = {
    ("opened", "failing"): "Backups of {site} are failing",
    ("opened", "overdue"): "Backups of {site} are overdue",
    ("opened", "paused"): "Action needed: backups of {site} are paused",
    ("opened", "key"): "Action needed: backups of {site} are paused (your KMS key is disabled)",
    ("recovered", ""): "Backups of {site} are working again",
}


def incident_email(*, incident_id: int, event: str) -> int:
    """The customer's e-mail about an incident (``opened`` or ``recovered``)."""
    incident = Incident.objects.select_related("site__tenant").get(pk=incident_id)
    site, tenant = incident.site, incident.site.tenant
    policy = policy_for(tenant)
    words, link = fix_action(site, incident.kind, incident.detail)
    context = {
        "incident": incident,
        "site": site,
        "tenant": tenant,
        "event": event,
        "detail": DETAILS.get(incident.detail, ""),
        "action": words,
        "action_url": link,
        "page_url": page_url(tenant),
        "interval_hours": getattr(getattr(site, "backup_schedule", None), "interval_hours", None),
    }
    key = (event, incident.kind) if event == "opened" else ("recovered", "")
    subject = SUBJECTS[key].format(site=site.name or site.url)
    try:
        sent = send(subject, f"protection_{event}", context, recipients(tenant, policy))
    except Exception:  # a mail server down must not undo the incident
        logger.exception("protection e-mail for incident %s not sent", incident_id)
        return 0
    logger.info("protection %s e-mail for incident %s: %d sent", event, incident_id, sent)
    return sent


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_payload(incident: Incident, event: str) -> dict:
    site = incident.site
    verb = {"opened": "opened", "recovered": "recovered", "closed": "closed"}[event]
    text = f"[{incident.get_kind_display()}] {site.url} ({site.tenant.slug}): incident {verb}" + (
        f" — {incident.reason}" if incident.reason and event == "opened" else ""
    )
    return {
        "text": text,
        "event": event,
        "incident": {
            "id": incident.pk,
            "kind": incident.kind,
            "detail": incident.detail,
            "status": incident.status,
            "reason": incident.reason,
            "opened_at": incident.opened_at.isoformat(),
            "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
        },
        "site": {"id": site.pk, "url": site.url, "cloud_id": site.cloud_id},
        "tenant": site.tenant.slug,
        "sent_at": timezone.now().isoformat(),
    }


def incident_webhook(*, incident_id: int, event: str) -> bool:
    """POST the incident to ``PROTECTION_WEBHOOK_URL`` (if set), signed with
    ``PROTECTION_WEBHOOK_SECRET``: header ``X-Protection-Signature: sha256=<hex HMAC of the
    body>``. Once; a failure is logged (the dashboard still lists the incident)."""
    url = settings.PROTECTION_WEBHOOK_URL
    if not url:
        return False
    incident = Incident.objects.select_related("site__tenant").get(pk=incident_id)
    body = json.dumps(webhook_payload(incident, event), sort_keys=True).encode()
    try:
        post_json(
            url, body, headers={SIGNATURE_HEADER: sign(body, settings.PROTECTION_WEBHOOK_SECRET)}
        )
    except DeliveryFailed as exc:
        logger.warning("protection webhook for incident %s not delivered: %s", incident_id, exc)
        return False
    return True
