"""Reads for the portal's pages: which tenants a user belongs to, and with which role."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from tenants.models import JiraSite, Membership, Tenant, User


def memberships_of(*, user: User) -> QuerySet[Membership]:
    """The user's memberships with their tenant and its sites, for the home page."""
    return (
        Membership.objects.filter(user=user)
        .select_related("tenant")
        .prefetch_related(
            Prefetch(
                "tenant__sites",
                queryset=JiraSite.objects.select_related("grant", "legacy_credential"),
            )
        )
        .order_by("tenant__name")
    )


def managing_membership(*, user: User, tenant: Tenant) -> Membership | None:
    """The membership if the user is an owner or admin of the tenant, else None (the check
    itself is ``portal.access.require_tenant_manager``)."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(
        user=user, tenant=tenant, role__in=Membership.MANAGING_ROLES
    ).first()


def has_verified_email(*, user: User, email: str) -> bool:
    """Whether ``user`` owns ``email`` (verified through allauth): invitation links are for the
    invited address only, so a forwarded link is useless to someone else."""
    from allauth.account.models import EmailAddress

    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()
