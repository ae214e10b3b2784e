"""Teammate invitations: a tenant owner or admin invites someone by e-mail with a role; the
invitee signs up or signs in (allauth, verified e-mail) and accepts. Only a hash of the token in
the link is stored; the membership itself is created by ``tenants.services.tenants``."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from portal.access import require_tenant_manager
from portal.exceptions import InvitationError
from portal.models import Invitation
from portal.selectors import has_verified_email
from tenants.audit import record_event
from tenants.models import Membership, Tenant, User
from tenants.services.tenants import membership_add

INVITATION_TTL = timedelta(days=7)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _send_invitation(invitation_id: int, raw_token: str) -> None:
    invitation = Invitation.objects.select_related("tenant", "invited_by").get(pk=invitation_id)
    link = settings.SITE_URL + reverse("portal:invitation_accept", args=[raw_token])
    body = render_to_string("email/invitation.txt", {"invitation": invitation, "link": link})
    send_mail(
        f"You are invited to {invitation.tenant.name} on Jira Backup",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [invitation.email],
    )


@transaction.atomic
def invitation_create(
    *,
    tenant: Tenant,
    email: str,
    role: str,
    acting_user: User,
    request: HttpRequest | None = None,
) -> Invitation:
    """Invite ``email`` as ``role``. Only owners and admins invite (``NotTenantManager``
    otherwise), and only owners may invite owners. The e-mail goes out on commit."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvitationError("Enter a valid e-mail address.") from None
    if role not in Invitation.Role.values:
        raise InvitationError("Choose a valid role.")
    inviter = require_tenant_manager(user=acting_user, tenant=tenant)
    if role == Invitation.Role.OWNER and inviter.role != Membership.Role.OWNER:
        raise InvitationError("Only owners can invite another owner.")
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise InvitationError(f"{email} is already a member.")
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        tenant=tenant,
        email=email,
        role=role,
        token_hash=_hash(raw),
        invited_by=acting_user,
        expires_at=timezone.now() + INVITATION_TTL,
    )
    record_event(
        actor=acting_user,
        action="invitation.created",
        target=invitation,
        tenant=tenant,
        summary={"email": email, "role": role},
        request=request,
    )
    transaction.on_commit(lambda: _send_invitation(invitation.pk, raw))
    return invitation


def invitation_for_token(raw_token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("tenant", "invited_by")
        .filter(token_hash=_hash(raw_token))
        .first()
    )
    if invitation is None:
        raise InvitationError("This invitation link is not valid.")
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation was already accepted.")
    if invitation.expires_at <= timezone.now():
        raise InvitationError("This invitation has expired; ask for a new one.")
    return invitation


@transaction.atomic
def invitation_accept(
    *, raw_token: str, acting_user: User, request: HttpRequest | None = None
) -> Membership:
    """Join the tenant with the invited role. The invitee must have verified the invited
    address, so a forwarded link cannot be used by someone else."""
    invitation = invitation_for_token(raw_token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation was already accepted.")
    if not has_verified_email(user=acting_user, email=invitation.email):
        raise InvitationError(
            f"This invitation is for {invitation.email}. Sign in with that address (and verify "
            "it) to accept."
        )
    membership = membership_add(
        tenant=invitation.tenant,
        user=acting_user,
        role=invitation.role,
        acting_user=acting_user,
        request=request,
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = acting_user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    record_event(
        actor=acting_user,
        action="invitation.accepted",
        target=invitation,
        tenant=invitation.tenant,
        summary={"email": invitation.email, "role": invitation.role},
        request=request,
    )
    return membership
