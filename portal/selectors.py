"""Reads for the portal's pages: which tenants a user belongs to, and with which role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from tenants.models import JiraSite, Membership, MigrationCase, MigrationNotice, Tenant, User


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


@dataclass(frozen=True)
class WaitingInvitation:
    """An invitation to one of the user's verified addresses that they have not acted on."""

    tenant: Tenant
    email: str
    what: str  # "move https://x.atlassian.net to our Atlassian app", "join as viewer"
    url: str = ""  # where to go on (a fresh link of a migration invitation), if we can say


def invitations_waiting(*, user: User) -> list[WaitingInvitation]:
    """What the person was invited to, found by their verified addresses: so someone who signed
    up from an invitation but confirmed their address in another browser still finds it.
    Migration invitations get a fresh link (the signed link names the case and address);
    teammate invitations are named (their link's token is not stored: the e-mail has it)."""
    from allauth.account.models import EmailAddress

    from portal.models import Invitation
    from tenants.services.campaigns import invite_url

    emails = {
        e.lower()
        for e in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    }
    if not emails:
        return []
    member_of = set(Membership.objects.filter(user=user).values_list("tenant_id", flat=True))
    now = timezone.now()
    waiting: list[WaitingInvitation] = []
    notices = MigrationNotice.objects.filter(
        kind__in=[MigrationNotice.Kind.INVITATION, MigrationNotice.Kind.REMINDER],
        case__state=MigrationCase.State.INVITED,
        sent_at__gte=now - timedelta(days=settings.MIGRATION_INVITE_MAX_AGE_DAYS),
    ).exclude(case__site__tenant_id__in=member_of)
    if connection.vendor == "postgresql":  # an index-friendly filter where JSON allows it
        any_address = Q()
        for email in emails:
            any_address |= Q(recipients__contains=[email])
        notices = notices.filter(any_address)
    seen: set[int] = set()
    for notice in notices.select_related("case__site__tenant").order_by("-sent_at"):
        addressed = sorted(emails & {r.lower() for r in notice.recipients})
        if not addressed or notice.case_id in seen:
            continue
        seen.add(notice.case_id)
        case = notice.case
        waiting.append(
            WaitingInvitation(
                tenant=case.site.tenant,
                email=addressed[0],
                what=(
                    f"allow backups of the boards and sprints of {case.site.url}"
                    if case.is_reconsent
                    else f"move {case.site.url} to our Atlassian app"
                ),
                url=invite_url(case=case, email=addressed[0]),
            )
        )
    for invitation in (
        Invitation.objects.filter(email__in=emails, accepted_at__isnull=True, expires_at__gt=now)
        .exclude(tenant_id__in=member_of)
        .select_related("tenant")
    ):
        waiting.append(
            WaitingInvitation(
                tenant=invitation.tenant,
                email=invitation.email,
                what=f"join as {invitation.get_role_display().lower()}",
            )
        )
    return waiting
