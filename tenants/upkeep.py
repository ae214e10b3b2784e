"""Grant upkeep, run by Celery beat (``tenants.tasks``): keep every vendor grant alive and true.

* Atlassian's refresh tokens die after 90 days without use: grants not rotated for
  ``IDLE_AFTER`` (30 days) are refreshed, so the inactivity expiry never strikes.
* A token family dies 365 days after the consent that started it, whatever we do: grants
  within ``FAMILY_WARNING`` (30 days) of that get their owners invited to consent again (once
  per family; the audit row ``grant.reconsent_invited`` is the record that it was sent).
* accessible-resources is the truth about which sites a grant reaches: sites it no longer
  lists are marked ``disconnected`` with a reason (deleted site, or access removed).

Each function works on one grant by id, so tasks stay thin and a failure stays local.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from atlassian.client import AuthClient
from atlassian.exceptions import ApiUnauthorized, AtlassianError
from tenants.audit import record_event
from tenants.emails import send_grant_reconsent_invite
from tenants.models import AuditEvent, JiraSite, OAuthGrant
from tenants.services.grants import tenant_of_grant
from tenants.services.sites import site_set_status
from tenants.tokens import (
    SiteNeedsReauthorization,
    TokenUnavailable,
    access_token_for_grant,
    grant_unauthorized,
    refresh_grant,
    report_unauthorized,
)

logger = logging.getLogger(__name__)

IDLE_AFTER = timedelta(days=30)
FAMILY_LIFETIME = timedelta(days=365)
FAMILY_WARNING = timedelta(days=30)
NOT_REACHED_REASON = (
    "the vendor grant no longer reaches this site (site deleted, or the authorizing account "
    "lost access); a site administrator must connect it again"
)


# ---------------------------------------------------------------------------- selectors


def idle_grant_ids() -> list[Any]:
    """Active grants whose refresh token was last rotated more than ``IDLE_AFTER`` ago."""
    cutoff = timezone.now() - IDLE_AFTER
    return list(
        OAuthGrant.objects.filter(status=OAuthGrant.Status.ACTIVE)
        .annotate(last=Coalesce("last_rotated_at", "family_started_at", "created_at"))
        .filter(last__lt=cutoff)
        .values_list("pk", flat=True)
    )


def expiring_grant_ids() -> list[Any]:
    """Active grants whose token family ends within ``FAMILY_WARNING``."""
    cutoff = timezone.now() - (FAMILY_LIFETIME - FAMILY_WARNING)
    return list(
        OAuthGrant.objects.filter(status=OAuthGrant.Status.ACTIVE)
        .filter(Q(family_started_at__lt=cutoff))
        .values_list("pk", flat=True)
    )


def active_grant_ids() -> list[Any]:
    return list(
        OAuthGrant.objects.filter(status=OAuthGrant.Status.ACTIVE).values_list("pk", flat=True)
    )


# ---------------------------------------------------------------------------- actions


def refresh_idle_grant(*, grant_id: Any) -> bool:
    """Refresh the grant if it is still idle. True when it is alive afterwards; False when it
    turned out to need re-authorization. ``TokenUnavailable`` propagates (the task retries)."""
    try:
        refresh_grant(grant_id, rotated_before=timezone.now() - IDLE_AFTER)
    except SiteNeedsReauthorization:
        return False
    return True


def invite_reconsent(*, grant_id: Any) -> bool:
    """Invite the grant's tenant admins (and the authorizing account) to consent again, once
    per token family. True when an invitation was sent now."""

    with transaction.atomic():
        grant = OAuthGrant.objects.select_for_update().get(pk=grant_id)
        if grant.status != OAuthGrant.Status.ACTIVE or grant.family_started_at is None:
            return False
        family = grant.family_started_at.isoformat()
        already = grant_reconsent_invited(grant)
        if already:
            return False
        record_event(
            actor=None,
            action="grant.reconsent_invited",
            target=grant,
            tenant=tenant_of_grant(grant),
            summary={
                "account_id": grant.account_id,
                "family_started_at": family,
                "family_expires_at": (grant.family_started_at + FAMILY_LIFETIME).isoformat(),
            },
        )
        transaction.on_commit(lambda: send_grant_reconsent_invite(grant_id=grant_id))
    return True


def grant_reconsent_invited(grant: OAuthGrant) -> bool:
    """Whether the owners of the grant's current token family were invited to consent again."""

    if grant.family_started_at is None:
        return False
    return AuditEvent.objects.filter(
        action="grant.reconsent_invited",
        target_content_type=ContentType.objects.get_for_model(OAuthGrant),
        target_object_id=str(grant.pk),
        summary__family_started_at=grant.family_started_at.isoformat(),
    ).exists()


def reconcile_grant_sites(*, grant_id: Any, auth_client=AuthClient) -> list[str]:
    """Mark the sites using this grant that accessible-resources no longer lists as
    ``disconnected``. Returns their cloud ids. A revoked grant shows up here as a 401 and
    becomes ``needs_reauth`` through tokens on demand."""
    try:
        token = access_token_for_grant(grant_id, auth_client=auth_client)
        with auth_client() as client:
            try:
                resources = client.accessible_resources(token)
            except ApiUnauthorized:
                token = report_unauthorized(grant_id, access_token=token, auth_client=auth_client)
                try:
                    resources = client.accessible_resources(token)
                except ApiUnauthorized:
                    grant_unauthorized(
                        grant_id, reason="Atlassian refused a freshly refreshed token (401)"
                    )
                    return []
    except (SiteNeedsReauthorization, TokenUnavailable) as exc:
        logger.info("reconcile of grant %s skipped: %s", grant_id, exc)
        return []
    except AtlassianError as exc:
        logger.warning("reconcile of grant %s failed: %s", grant_id, exc)
        raise TokenUnavailable(f"accessible-resources failed: {exc}") from None
    reached = {r.id for r in resources if r.is_jira}
    lost: list[str] = []
    sites = JiraSite.objects.filter(grant_id=grant_id, status=JiraSite.Status.ACTIVE)
    for site in sites:
        if site.cloud_id in reached:
            continue
        if site_set_status(
            site=site,
            status=JiraSite.Status.DISCONNECTED,
            reason=NOT_REACHED_REASON,
            acting_user=None,
        ):
            lost.append(site.cloud_id)
    if lost:
        logger.warning("grant %s no longer reaches %s", grant_id, ", ".join(lost))
    return lost
