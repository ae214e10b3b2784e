"""The vendor app's OAuth grants: one per Atlassian account, tokens encrypted at rest."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from tenants import keys
from tenants.audit import record_event
from tenants.exceptions import DomainError, InvalidStatusChange
from tenants.fields import scope_of
from tenants.models import GrantSite, JiraSite, OAuthGrant, Tenant, User
from tenants.scopes import require_scopes
from tenants.services.sites import apply_site_status

logger = logging.getLogger(__name__)


def _merge(old: Iterable[str], new: Iterable[str]) -> list[str]:
    return sorted(set(old) | set(new))


def tenant_of_grant(grant: OAuthGrant) -> Tenant | None:
    """The tenant for the grant's audit rows: the one its sites belong to, if exactly one."""
    tenant_ids = set(grant.grant_sites.values_list("site__tenant_id", flat=True))
    if len(tenant_ids) != 1:
        return None
    return Tenant.objects.get(pk=tenant_ids.pop())


@transaction.atomic
def grant_upsert(
    *,
    account_id: str,
    account_name: str = "",
    account_email: str = "",
    scopes: Sequence[str],
    access_token: str,
    refresh_token: str,
    access_token_expires_at: datetime,
    sites: Sequence[tuple[JiraSite, Sequence[str]]],
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> OAuthGrant:
    """Store the grant after a consent (authorization-code exchange): one row per Atlassian
    account; the consented sites and scopes are merged into what it already had, the tokens
    replaced (a consent starts a new token family), and the grant becomes active again.

    ``sites`` pairs each site (already linked to its tenant with ``site_link_to_tenant``) with
    the scopes granted for it. A consent without every scope we need raises ``MissingScopes``
    (``tenants.scopes``) and stores nothing: a read-only grant would back up, then fail the
    first restore.
    """
    if not access_token or not refresh_token:
        raise DomainError("a consent must yield both an access and a refresh token")
    require_scopes(granted=scopes, site_scopes=[site_scopes for _, site_scopes in sites])
    grant = OAuthGrant.objects.select_for_update().filter(account_id=account_id).first()
    created = grant is None
    if created:
        try:
            with transaction.atomic():
                grant = OAuthGrant.objects.create(account_id=account_id)
        except IntegrityError:  # a concurrent consent for the same account created it first
            grant = OAuthGrant.objects.select_for_update().get(account_id=account_id)
            created = False
    now = timezone.now()
    previous_status = grant.status
    grant.account_name = account_name or grant.account_name
    grant.account_email = account_email or grant.account_email
    grant.scopes = _merge(grant.scopes, scopes)
    grant.set_tokens(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_at=access_token_expires_at,
    )
    grant.family_started_at = now
    grant.last_rotated_at = now
    grant.status, grant.status_reason, grant.status_changed_at = (
        OAuthGrant.Status.ACTIVE,
        "",
        now if previous_status != OAuthGrant.Status.ACTIVE else grant.status_changed_at,
    )
    grant.save()
    added: list[str] = []
    for site, site_scopes in sites:
        link, link_created = GrantSite.objects.get_or_create(
            grant=grant, site=site, defaults={"scopes": _merge([], site_scopes)}
        )
        if link_created:
            added.append(site.cloud_id)
        elif set(site_scopes) - set(link.scopes):
            link.scopes = _merge(link.scopes, site_scopes)
            link.save(update_fields=["scopes", "updated_at"])
    # A fresh consent repairs the sites that were waiting for one.
    _mark_sites(grant, JiraSite.Status.ACTIVE, "", acting_user, request)
    record_event(
        actor=acting_user,
        action="grant.created" if created else "grant.updated",
        target=grant,
        tenant=tenant_of_grant(grant),
        summary={
            "account_id": account_id,
            "scopes": grant.scopes,
            "sites_added": added,
            "sites": [site.cloud_id for site, _ in sites],
            "previous_status": None if created else previous_status,
            "access_token_expires_at": access_token_expires_at.isoformat(),
        },
        request=request,
    )
    logger.info("grant %s stored for account %s", grant.pk, account_id)
    return grant


@transaction.atomic
def grant_store_rotated_tokens(
    *,
    grant: OAuthGrant,
    access_token: str,
    refresh_token: str | None,
    access_token_expires_at: datetime,
    acting_user: User | None = None,
    request: HttpRequest | None = None,
) -> OAuthGrant:
    """Store the tokens of a refresh. Atlassian rotates the refresh token on each use; when a
    response carries none we keep the old one (it stays valid). The family start is unchanged:
    rotation does not extend the 365-day absolute expiry."""
    if not access_token:
        raise DomainError("a refresh must yield an access token")
    locked = OAuthGrant.objects.select_for_update().get(pk=grant.pk)
    if locked.status == OAuthGrant.Status.REVOKED:
        raise InvalidStatusChange("the grant was revoked; its tokens cannot be stored")
    locked.set_tokens(
        access_token=access_token, refresh_token=refresh_token, expires_at=access_token_expires_at
    )
    locked.last_rotated_at = timezone.now()
    locked.save()
    record_event(
        actor=acting_user,
        action="grant.refreshed",
        target=locked,
        tenant=tenant_of_grant(locked),
        summary={
            "account_id": locked.account_id,
            "refresh_token_rotated": bool(refresh_token),
            "access_token_expires_at": access_token_expires_at.isoformat(),
        },
        request=request,
    )
    # Keep the caller's instance current: it may go on to use the new token.
    grant.access_token_ciphertext = locked.access_token_ciphertext
    grant.refresh_token_ciphertext = locked.refresh_token_ciphertext
    grant.access_token_expires_at = locked.access_token_expires_at
    grant.last_rotated_at = locked.last_rotated_at
    return locked


def grant_mark_used(*, grant: OAuthGrant, at: datetime | None = None) -> None:
    """Note that the grant's access token was just used. Deliberately not audited and not
    locked: it is a last-seen timestamp written on every API call, not a change of state, and the
    conditional update never moves it backwards."""
    at = at or timezone.now()
    OAuthGrant.objects.filter(pk=grant.pk).exclude(last_used_at__gte=at).update(last_used_at=at)
    grant.last_used_at = at


def _mark_sites(grant: OAuthGrant, status: str, reason: str, acting_user, request) -> list[str]:
    """Put the sites that use ``grant`` into ``status``, one audit row each (for their tenant)."""
    marked = []
    sites = JiraSite.objects.select_for_update().select_related("tenant").filter(grant=grant)
    for site in sites:
        if site.status in (JiraSite.Status.OFFBOARDED, JiraSite.Status.DISCONNECTED):
            continue
        previous = site.status
        if apply_site_status(site, status, reason):
            marked.append(site.cloud_id)
            record_event(
                actor=acting_user,
                action="site.status_changed",
                target=site,
                tenant=site.tenant,
                summary={
                    "cloud_id": site.cloud_id,
                    "from": previous,
                    "to": status,
                    "reason": reason,
                },
                request=request,
            )
    return marked


@transaction.atomic
def grant_mark_needs_reauth(
    *,
    grant: OAuthGrant,
    reason: str,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> bool:
    """The grant no longer works (``invalid_grant``, 401, family expired): it and the sites using
    it become ``needs_reauth`` with ``reason``. Returns True only for the call that changed it,
    so however many workers hit the failure, the customer is notified once."""
    if not reason.strip():
        raise DomainError("marking a grant needs_reauth needs a reason")
    locked = OAuthGrant.objects.select_for_update().get(pk=grant.pk)
    if locked.status != OAuthGrant.Status.ACTIVE:
        return False
    locked.status, locked.status_reason, locked.status_changed_at = (
        OAuthGrant.Status.NEEDS_REAUTH,
        reason.strip(),
        timezone.now(),
    )
    locked.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
    sites = _mark_sites(locked, JiraSite.Status.NEEDS_REAUTH, reason.strip(), acting_user, request)
    record_event(
        actor=acting_user,
        action="grant.needs_reauth",
        target=locked,
        tenant=tenant_of_grant(locked),
        summary={"account_id": locked.account_id, "reason": reason.strip(), "sites": sites},
        request=request,
    )
    logger.warning("grant %s needs re-authorization: %s", locked.pk, reason.strip())
    grant.status, grant.status_reason = locked.status, locked.status_reason
    return True


@transaction.atomic
def grant_revoke(
    *,
    grant: OAuthGrant,
    reason: str,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> bool:
    """Revoke on our side: the tokens are destroyed and its sites need re-authorization.
    Idempotent (row lock, early return when already revoked), like django-oauth-toolkit's
    ``revoke()``. Revoking at Atlassian is the Atlassian client's job, not this function's."""
    locked = OAuthGrant.objects.select_for_update().get(pk=grant.pk)
    if locked.status == OAuthGrant.Status.REVOKED:
        return False
    previous = locked.status
    locked.access_token = None
    locked.refresh_token = None
    locked.access_token_expires_at = None
    locked.status, locked.status_reason, locked.status_changed_at = (
        OAuthGrant.Status.REVOKED,
        reason.strip() or "revoked",
        timezone.now(),
    )
    locked.save()
    # The tokens' old row versions (dead tuples, WAL, database backups) die with the data key.
    data_keys = keys.destroy_scope(scope_of(locked))
    sites = _mark_sites(
        locked,
        JiraSite.Status.NEEDS_REAUTH,
        f"grant revoked: {locked.status_reason}",
        acting_user,
        request,
    )
    record_event(
        actor=acting_user,
        action="grant.revoked",
        target=locked,
        tenant=tenant_of_grant(locked),
        summary={
            "account_id": locked.account_id,
            "from": previous,
            "reason": locked.status_reason,
            "sites": sites,
            "data_keys_destroyed": len(data_keys),
        },
        request=request,
    )
    grant.status = locked.status
    grant.access_token_ciphertext = grant.refresh_token_ciphertext = None
    return True
