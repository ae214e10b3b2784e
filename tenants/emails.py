"""E-mails to customer admins about their Jira connection. Called from ``transaction.on_commit``
(never inside a transaction that may still roll back); they take ids, so they can also run from a
task. No token, code or secret ever goes into a message."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from tenants.models import JiraSite, Membership, OAuthGrant, Tenant

logger = logging.getLogger(__name__)


def tenant_admin_emails(tenant: Tenant) -> list[str]:
    """Owners and admins of the tenant, by their sign-in address (sorted, unique)."""
    emails = Membership.objects.filter(
        tenant=tenant, role__in=Membership.MANAGING_ROLES, user__is_active=True
    ).values_list("user__email", flat=True)
    return sorted({e.lower() for e in emails if e})


def _sites_by_tenant(grant: OAuthGrant) -> dict[Tenant, list[JiraSite]]:
    found: dict[Tenant, list[JiraSite]] = {}
    sites = JiraSite.objects.select_related("tenant").filter(grant_sites__grant=grant).distinct()
    for site in sites:
        found.setdefault(site.tenant, []).append(site)
    return found


def _send(template: str, subject: str, recipients: list[str], context: dict[str, Any]) -> None:
    body = render_to_string(template, context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


def _connect_url(tenant: Tenant) -> str:
    return settings.SITE_URL + reverse("portal:connect_start", args=[tenant.slug])


def send_grant_needs_reauth(*, grant_id: Any) -> int:
    """One message per tenant whose sites the grant serves, to its owners and admins."""
    grant = OAuthGrant.objects.get(pk=grant_id)
    sent = 0
    for tenant, sites in _sites_by_tenant(grant).items():
        recipients = tenant_admin_emails(tenant)
        if not recipients:
            logger.warning("tenant %s has no admin to tell that a grant needs re-auth", tenant.slug)
            continue
        _send(
            "email/grant_needs_reauth.txt",
            "Action needed: reconnect your Jira sites",
            recipients,
            {
                "tenant": tenant,
                "sites": sites,
                "reason": grant.status_reason,
                "account": grant.account_email or grant.account_name,
                "connect_url": _connect_url(tenant),
            },
        )
        sent += 1
    return sent


def send_grant_reconsent_invite(*, grant_id: Any) -> int:
    """The grant's token family reaches Atlassian's 365-day limit soon: ask to consent again."""
    grant = OAuthGrant.objects.get(pk=grant_id)
    sent = 0
    for tenant, sites in _sites_by_tenant(grant).items():
        recipients = tenant_admin_emails(tenant)
        if grant.account_email and grant.account_email.lower() not in recipients:
            recipients.append(grant.account_email.lower())
        if not recipients:
            continue
        _send(
            "email/grant_reconsent_invite.txt",
            "Please reconnect your Jira sites before access expires",
            recipients,
            {
                "tenant": tenant,
                "sites": sites,
                "account": grant.account_email or grant.account_name,
                "family_started_at": grant.family_started_at,
                "connect_url": _connect_url(tenant),
            },
        )
        sent += 1
    return sent
