"""Reads that span relations. Views, admin, tasks and commands read through these."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from tenants.models import (
    JiraSite,
    LegalHold,
    Membership,
    MigrationCase,
    OAuthGrant,
    Tenant,
    User,
)
from tenants.scopes import software_scopes_missing


def tenants_for_user(*, user: User) -> QuerySet[Tenant]:
    """The tenants ``user`` is a member of (staff see only their own memberships here too)."""
    if not user.is_authenticated or not user.is_active:
        return Tenant.objects.none()
    return Tenant.objects.filter(memberships__user=user).distinct()


def membership_for(*, user: User, tenant: Tenant) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, tenant=tenant).first()


def user_can_view_tenant(*, user: User, tenant: Tenant) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or membership_for(user=user, tenant=tenant) is not None


def user_can_manage_tenant(*, user: User, tenant: Tenant) -> bool:
    """Owners and admins manage a tenant (connect sites, run the wizard); viewers only look."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    membership = membership_for(user=user, tenant=tenant)
    return membership is not None and membership.role in Membership.MANAGING_ROLES


def sites_for_tenant(*, tenant: Tenant) -> QuerySet[JiraSite]:
    return (
        JiraSite.objects.filter(tenant=tenant)
        .select_related("grant", "legacy_credential")
        .order_by("url")
    )


def site_for_tenant(*, tenant: Tenant, site_id: int) -> JiraSite | None:
    """A site only if it belongs to ``tenant``: the cross-tenant guard for views."""
    return sites_for_tenant(tenant=tenant).filter(pk=site_id).first()


def grant_for_site(*, site: JiraSite) -> OAuthGrant | None:
    """The active vendor grant to use for ``site``: the one the site uses, else any active grant
    that reaches it (most recently rotated first)."""
    if site.grant_id:
        grant = OAuthGrant.objects.filter(pk=site.grant_id, status=OAuthGrant.Status.ACTIVE).first()
        if grant is not None:
            return grant
    return (
        OAuthGrant.objects.filter(grant_sites__site=site, status=OAuthGrant.Status.ACTIVE)
        .order_by("-last_rotated_at", "-created_at")
        .first()
    )


def grants_needing_refresh(*, before: datetime) -> QuerySet[OAuthGrant]:
    """Active grants whose access token expires before ``before``."""
    return OAuthGrant.objects.filter(
        status=OAuthGrant.Status.ACTIVE, access_token_expires_at__lt=before
    )


def legacy_sites_past_due(*, now: datetime | None = None) -> QuerySet[JiraSite]:
    """Sites still on a legacy credential that should have moved by now: their migration case
    is past its due date, or ``LEGACY_CUTOFF`` has passed. Exempt cases are left out."""
    now = now or timezone.now()
    migrations = MigrationCase.objects.filter(purpose=MigrationCase.Purpose.MIGRATION)
    sites = (
        JiraSite.objects.filter(legacy_credential__isnull=False)
        .exclude(status=JiraSite.Status.OFFBOARDED)
        .exclude(pk__in=migrations.filter(state=MigrationCase.State.EXEMPT).values("site_id"))
    )
    if now < settings.LEGACY_CUTOFF:
        sites = sites.filter(pk__in=migrations.filter(due_at__lte=now).values("site_id"))
    return sites.select_related("tenant", "legacy_credential")


def sites_needing_reconsent() -> QuerySet[JiraSite]:
    """Active sites on an active vendor grant that lacks Jira Software's scopes (they back up
    everything but sprint data until a site administrator consents again). The scopes are
    compared in Python, per grant (a JSON list: no portable SQL containment)."""
    lacking = [
        pk
        for pk, scopes in OAuthGrant.objects.filter(status=OAuthGrant.Status.ACTIVE).values_list(
            "pk", "scopes"
        )
        if software_scopes_missing(scopes or [])
    ]
    return JiraSite.objects.filter(status=JiraSite.Status.ACTIVE, grant_id__in=lacking)


def hold_on(*, site: JiraSite | None = None, tenant: Tenant | None = None):
    """The active legal hold that covers the site (its own, or its tenant's) or the tenant (its
    own, or one of its sites'), or None."""
    active = LegalHold.objects.filter(released_at__isnull=True).order_by("placed_at")
    if site is not None:
        return active.filter(Q(site=site) | Q(tenant_id=site.tenant_id)).first()
    return active.filter(Q(tenant=tenant) | Q(site__tenant=tenant)).first()
