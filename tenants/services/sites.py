"""Jira sites: linking a site to its tenant, its status, and which credential it uses."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from atlassian.models import PoolQuota
from atlassian.pools import pools_changed, tier2_quota
from tenants.audit import record_event
from tenants.exceptions import DomainError, SiteAlreadyExists, SiteOwnedByAnotherTenant
from tenants.models import (
    GrantSite,
    JiraSite,
    LegacyCredential,
    MigrationCase,
    OAuthGrant,
    Tenant,
    User,
)
from tenants.services.migration import transition_locked
from tenants.services.schedules import schedules_follow

logger = logging.getLogger(__name__)

# Sites known only by URL (the legacy import) get this cloud id until a consent tells the real one.
UNRESOLVED_PREFIX = "unresolved:"


def _insert_site(*, tenant: Tenant, cloud_id: str, url: str, name: str) -> JiraSite:
    """Insert, turning the unique-constraint race into the domain error callers expect."""
    try:
        with transaction.atomic():  # a savepoint, so the caller's transaction survives
            return JiraSite.objects.create(
                tenant=tenant, cloud_id=cloud_id, url=url.rstrip("/"), name=name
            )
    except IntegrityError:
        owner_id = JiraSite.objects.filter(cloud_id=cloud_id).values_list("tenant_id", flat=True)
        if owner_id and owner_id[0] == tenant.pk:
            raise SiteAlreadyExists(cloud_id) from None
        raise SiteOwnedByAnotherTenant(cloud_id) from None


def _audit_site_created(site: JiraSite, acting_user: User | None, request: HttpRequest | None):
    record_event(
        actor=acting_user,
        action="site.created",
        target=site,
        tenant=site.tenant,
        summary={"cloud_id": site.cloud_id, "url": site.url, "name": site.name},
        request=request,
    )


@transaction.atomic
def site_create(
    *,
    tenant: Tenant,
    cloud_id: str,
    url: str,
    name: str = "",
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> JiraSite:
    """Create a site; raises ``SiteOwnedByAnotherTenant`` or ``SiteAlreadyExists``."""
    existing = JiraSite.objects.filter(cloud_id=cloud_id).first()
    if existing is not None:
        if existing.tenant_id == tenant.pk:
            raise SiteAlreadyExists(cloud_id)
        raise SiteOwnedByAnotherTenant(cloud_id)
    site = _insert_site(tenant=tenant, cloud_id=cloud_id, url=url, name=name)
    _audit_site_created(site, acting_user, request)
    return site


@transaction.atomic
def site_link_to_tenant(
    *,
    tenant: Tenant,
    cloud_id: str,
    url: str,
    name: str = "",
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> JiraSite:
    """The site with this cloud id, created for ``tenant`` if new and its URL/name refreshed if
    known (sites get renamed). Raises ``SiteOwnedByAnotherTenant`` if another tenant owns it."""
    url = url.rstrip("/")
    site = JiraSite.objects.select_for_update().filter(cloud_id=cloud_id).first()
    if site is None:
        try:
            site = _insert_site(tenant=tenant, cloud_id=cloud_id, url=url, name=name)
        except SiteAlreadyExists:  # a concurrent link for the same tenant won the race
            site = JiraSite.objects.select_for_update().get(cloud_id=cloud_id)
        else:
            _audit_site_created(site, acting_user, request)
            return site
    if site.tenant_id != tenant.pk:
        logger.warning("refused to link site %s: it belongs to another tenant", cloud_id)
        raise SiteOwnedByAnotherTenant(cloud_id)
    changes = {}
    if site.url != url:
        changes["url"] = [site.url, url]
        site.url = url
    if name and site.name != name:
        changes["name"] = [site.name, name]
        site.name = name
    if changes:
        site.save(update_fields=["url", "name", "updated_at"])
        record_event(
            actor=acting_user,
            action="site.updated",
            target=site,
            tenant=site.tenant,
            summary={"cloud_id": cloud_id, "changes": changes},
            request=request,
        )
    return site


@transaction.atomic
def site_resolve_cloud_id(
    *,
    site: JiraSite,
    cloud_id: str,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> JiraSite:
    """Give a site imported by URL only (an ``unresolved:`` cloud id) the real cloud id a
    consent revealed. Its schedule's pool is named after the cloud id, so the schedule follows
    in the same transaction. Raises ``SiteOwnedByAnotherTenant`` or ``SiteAlreadyExists`` when
    another site already has that cloud id."""
    locked = JiraSite.objects.select_for_update().select_related("tenant").get(pk=site.pk)
    if locked.cloud_id == cloud_id:
        return locked
    if not locked.cloud_id.startswith(UNRESOLVED_PREFIX):
        raise DomainError(f"site {locked.cloud_id} already has its cloud id")
    owner_id = (
        JiraSite.objects.filter(cloud_id=cloud_id).values_list("tenant_id", flat=True).first()
    )
    if owner_id is not None:
        if owner_id == locked.tenant_id:
            raise SiteAlreadyExists(cloud_id)
        raise SiteOwnedByAnotherTenant(cloud_id)
    previous, locked.cloud_id = locked.cloud_id, cloud_id
    try:
        with transaction.atomic():
            locked.save(update_fields=["cloud_id", "updated_at"])
    except IntegrityError:  # the same cloud id was just stored for another site
        raise SiteOwnedByAnotherTenant(cloud_id) from None
    schedules_follow([locked.pk])
    record_event(
        actor=acting_user,
        action="site.cloud_id_resolved",
        target=locked,
        tenant=locked.tenant,
        summary={"from": previous, "to": cloud_id, "url": locked.url},
        request=request,
    )
    site.cloud_id = cloud_id
    return locked


def apply_site_status(site: JiraSite, status: str, reason: str) -> bool:
    """Set a locked site's status (no audit: the calling service writes it)."""
    if site.status == status and site.status_reason == reason:
        return False
    previous = site.status
    site.status, site.status_reason, site.status_changed_at = status, reason, timezone.now()
    site.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
    if previous != status:
        schedules_follow([site.pk], reason="status")
    return True


@transaction.atomic
def site_set_status(
    *,
    site: JiraSite,
    status: str,
    reason: str = "",
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> bool:
    """Set a site's status; any status but active needs a reason a support agent can read.
    Returns False when nothing changed, so callers notify only once."""
    if status not in JiraSite.Status.values:
        raise DomainError(f"unknown site status {status!r}")
    reason = reason.strip()
    if status != JiraSite.Status.ACTIVE and not reason:
        raise DomainError(f"a site that is {status} needs a reason")
    locked = JiraSite.objects.select_for_update().select_related("tenant").get(pk=site.pk)
    previous = locked.status
    if locked.status == JiraSite.Status.OFFBOARDED and status != JiraSite.Status.OFFBOARDED:
        raise DomainError("an offboarded site cannot change status")
    if not apply_site_status(locked, status, reason):
        return False
    record_event(
        actor=acting_user,
        action="site.status_changed",
        target=locked,
        tenant=locked.tenant,
        summary={"cloud_id": locked.cloud_id, "from": previous, "to": status, "reason": reason},
        request=request,
    )
    return True


@transaction.atomic
def site_use_grant(
    *,
    site: JiraSite,
    grant: OAuthGrant,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> JiraSite:
    """Cut the site over to the vendor grant in one transaction: the site switches credential,
    becomes active, a legacy credential no other site uses becomes ``migrated`` (its secret is
    kept until the case completes, so a failed cut-over can still be rolled back), and a
    ``verified`` migration case moves to ``cut_over``."""
    locked = JiraSite.objects.select_for_update().select_related("tenant").get(pk=site.pk)
    locked_grant = OAuthGrant.objects.select_for_update().get(pk=grant.pk)
    if locked_grant.status != OAuthGrant.Status.ACTIVE:
        raise DomainError(f"the grant is {locked_grant.status}; it cannot serve a site")
    if not GrantSite.objects.filter(grant=locked_grant, site=locked).exists():
        raise DomainError(f"the grant does not reach site {locked.cloud_id}")
    if locked.status == JiraSite.Status.OFFBOARDED:
        raise DomainError("an offboarded site cannot be connected")
    if locked.grant_id == locked_grant.pk and locked.status == JiraSite.Status.ACTIVE:
        return locked
    previous_legacy_id = locked.legacy_credential_id
    previous = {
        "grant": str(locked.grant_id) if locked.grant_id else None,
        "legacy_credential": str(previous_legacy_id) if previous_legacy_id else None,
        "status": locked.status,
    }
    locked.grant, locked.legacy_credential = locked_grant, None
    locked.status, locked.status_reason, locked.status_changed_at = (
        JiraSite.Status.ACTIVE,
        "",
        timezone.now(),
    )
    locked.save()
    schedules_follow([locked.pk], reason="migrated" if previous_legacy_id else "connected")
    if previous_legacy_id:
        credential = LegacyCredential.objects.select_for_update().get(pk=previous_legacy_id)
        if credential.status == LegacyCredential.Status.ACTIVE and not credential.sites.exists():
            credential.status, credential.migrated_at = (
                LegacyCredential.Status.MIGRATED,
                timezone.now(),
            )
            credential.save(update_fields=["status", "migrated_at", "updated_at"])
    record_event(
        actor=acting_user,
        action="site.cut_over_to_grant",
        target=locked,
        tenant=locked.tenant,
        summary={
            "cloud_id": locked.cloud_id,
            "grant": str(locked_grant.pk),
            "account_id": locked_grant.account_id,
            "previous": previous,
        },
        request=request,
    )
    case = (
        MigrationCase.objects.select_for_update()
        .filter(site=locked, purpose=MigrationCase.Purpose.MIGRATION)
        .first()
    )
    if case is not None and case.state == MigrationCase.State.VERIFIED:
        transition_locked(
            case=case,
            to=MigrationCase.State.CUT_OVER,
            reason="",
            acting_user=acting_user,
            request=request,
        )
    return locked


@transaction.atomic
def site_use_legacy_credential(
    *,
    site: JiraSite,
    credential: LegacyCredential,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> JiraSite:
    """Record that a site is reached through a legacy credential (the import command only).
    Refuses to move a site off the vendor grant: that would be a step back."""
    locked = JiraSite.objects.select_for_update().select_related("tenant").get(pk=site.pk)
    if credential.tenant_id != locked.tenant_id:
        raise DomainError("the legacy credential belongs to another tenant")
    if credential.status == LegacyCredential.Status.PURGED:
        raise DomainError("the legacy credential was purged")
    if locked.grant_id:
        raise DomainError(f"site {locked.cloud_id} already uses the vendor grant")
    if locked.legacy_credential_id == credential.pk:
        return locked
    locked.legacy_credential = credential
    locked.save(update_fields=["legacy_credential", "updated_at"])
    # Only the import links a legacy credential to a site.
    schedules_follow([locked.pk], reason="imported")
    record_event(
        actor=acting_user,
        action="site.legacy_credential_linked",
        target=locked,
        tenant=locked.tenant,
        summary={
            "cloud_id": locked.cloud_id,
            "legacy_credential": str(credential.pk),
            "kind": credential.kind,
        },
        request=request,
    )
    return locked


@transaction.atomic
def site_set_pool(
    *,
    site: JiraSite,
    plan: str,
    users: int = 0,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> bool:
    """Put a site on Atlassian's Tier 2 (its own points pool, sized by ``plan`` and ``users``
    with Atlassian's formula, ``atlassian.pools.tier2_quota``) or back on Tier 1 (``plan``
    empty: the app's global pool). Bad input raises ``DomainError`` and changes nothing.
    Returns False when nothing changed."""
    plan = (plan or "").strip().lower()
    try:
        users = int(users or 0)
        quota = tier2_quota(plan, users) if plan else None
    except (TypeError, ValueError) as exc:
        raise DomainError(f"cannot set the site's pool: {exc}") from None
    locked = JiraSite.objects.select_for_update().select_related("tenant").get(pk=site.pk)
    row = PoolQuota.objects.select_for_update().filter(cloud_id=locked.cloud_id).first()
    before = (
        {"plan": row.plan, "users": row.users, "points_per_hour": row.points_per_hour}
        if row is not None
        else {"tier": 1}
    )
    if quota is None:
        if row is None:
            return False
        row.delete()
        after: dict = {"tier": 1}
    else:
        if (
            row is not None
            and (row.plan, row.users, row.points_per_hour) == (plan, users, quota)
            and row.source == PoolQuota.Source.ADMIN
        ):
            return False
        PoolQuota.objects.update_or_create(
            cloud_id=locked.cloud_id,
            defaults={
                "plan": plan,
                "users": users,
                "points_per_hour": quota,
                "source": PoolQuota.Source.ADMIN,
            },
        )
        after = {"plan": plan, "users": users, "points_per_hour": quota}
    record_event(
        actor=acting_user,
        action="site.pool_changed",
        target=locked,
        tenant=locked.tenant,
        summary={"cloud_id": locked.cloud_id, "before": before, "after": after},
        request=request,
    )
    pools_changed.send(sender=PoolQuota, cloud_ids=[locked.cloud_id], reason="admin")
    return True
