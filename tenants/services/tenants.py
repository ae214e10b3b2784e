"""Tenants and memberships."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email, validate_slug
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from tenants.audit import record_event
from tenants.exceptions import DomainError, InvalidStatusChange, LastOwner
from tenants.models import JiraSite, Membership, OAuthGrant, Tenant, User
from tenants.services.grants import grant_revoke
from tenants.services.legacy import legacy_credential_purge
from tenants.services.schedules import schedules_follow

logger = logging.getLogger(__name__)


def _clean_emails(emails: Sequence[str]) -> list[str]:
    cleaned: list[str] = []
    for email in emails:
        email = email.strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise DomainError(f"{email!r} is not a valid e-mail address") from None
        if email not in cleaned:
            cleaned.append(email)
    return cleaned


def _locked(tenant: Tenant) -> Tenant:
    return Tenant.objects.select_for_update().get(pk=tenant.pk)


@transaction.atomic
def tenant_create(
    *,
    name: str,
    slug: str,
    contact_emails: Sequence[str] = (),
    storage_location: str = "",
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> Tenant:
    name = name.strip()
    locations = getattr(settings, "STORAGE_LOCATIONS", {}) or {}
    if storage_location and storage_location not in locations:
        raise DomainError(
            f"unknown storage location {storage_location!r}; configured: "
            f"{', '.join(sorted(locations)) or 'none (the default storage)'}"
        )
    if not name:
        raise DomainError("a tenant needs a name")
    try:
        validate_slug(slug)
    except ValidationError:
        raise DomainError(f"{slug!r} is not a valid slug (letters, digits, - and _)") from None
    if Tenant.objects.filter(slug=slug).exists():
        raise DomainError(f"the slug {slug!r} is already taken")
    tenant = Tenant.objects.create(
        name=name,
        slug=slug,
        contact_emails=_clean_emails(contact_emails),
        storage_location=storage_location,
    )
    record_event(
        actor=acting_user,
        action="tenant.created",
        target=tenant,
        tenant=tenant,
        summary={
            "name": tenant.name,
            "slug": tenant.slug,
            "contact_emails": tenant.contact_emails,
            # Only when chosen: the default location writes the event it always wrote (the
            # importer's bulk path writes the same).
            **({"storage_location": tenant.storage_location} if tenant.storage_location else {}),
        },
        request=request,
    )
    logger.info("tenant created: %s", tenant.slug)
    return tenant


@transaction.atomic
def tenant_update(
    *,
    tenant: Tenant,
    name: str | None = None,
    contact_emails: Sequence[str] | None = None,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> Tenant:
    """Change name and/or contact e-mails; the slug is permanent (it is in URLs and storage)."""
    locked = _locked(tenant)
    changes: dict[str, list] = {}
    if name is not None and name.strip() != locked.name:
        if not name.strip():
            raise DomainError("a tenant needs a name")
        changes["name"] = [locked.name, name.strip()]
        locked.name = name.strip()
    if contact_emails is not None:
        emails = _clean_emails(contact_emails)
        if emails != locked.contact_emails:
            changes["contact_emails"] = [locked.contact_emails, emails]
            locked.contact_emails = emails
    if changes:
        locked.save()
        record_event(
            actor=acting_user,
            action="tenant.updated",
            target=locked,
            tenant=locked,
            summary={"changes": changes},
            request=request,
        )
    return locked


def _set_tenant_status(
    *,
    tenant: Tenant,
    to: str,
    allowed_from: set[str],
    reason: str,
    action: str,
    acting_user: User | None,
    request: HttpRequest | None,
) -> tuple[Tenant, bool]:
    locked = _locked(tenant)
    if locked.status == to:
        return locked, False
    if locked.status not in allowed_from:
        raise InvalidStatusChange(f"tenant {locked.slug} is {locked.status}; it cannot become {to}")
    previous = locked.status
    locked.status, locked.status_reason = to, reason
    locked.save(update_fields=["status", "status_reason", "updated_at"])
    record_event(
        actor=acting_user,
        action=action,
        target=locked,
        tenant=locked,
        summary={"from": previous, "to": to, "reason": reason},
        request=request,
    )
    return locked, True


@transaction.atomic
def tenant_suspend(
    *, tenant: Tenant, reason: str, acting_user: User | None, request: HttpRequest | None = None
) -> bool:
    """Suspend an active tenant (backups stop); False when it was already suspended."""
    if not reason.strip():
        raise DomainError("suspending a tenant needs a reason")
    _, changed = _set_tenant_status(
        tenant=tenant,
        to=Tenant.Status.SUSPENDED,
        allowed_from={Tenant.Status.ACTIVE},
        reason=reason.strip(),
        action="tenant.suspended",
        acting_user=acting_user,
        request=request,
    )
    return changed


@transaction.atomic
def tenant_reactivate(
    *, tenant: Tenant, acting_user: User | None, request: HttpRequest | None = None
) -> bool:
    """Reactivate a suspended tenant; an offboarded one cannot come back (its secrets are gone)."""
    _, changed = _set_tenant_status(
        tenant=tenant,
        to=Tenant.Status.ACTIVE,
        allowed_from={Tenant.Status.SUSPENDED},
        reason="",
        action="tenant.reactivated",
        acting_user=acting_user,
        request=request,
    )
    return changed


@transaction.atomic
def tenant_offboard(
    *, tenant: Tenant, reason: str, acting_user: User | None, request: HttpRequest | None = None
) -> bool:
    """Offboard a tenant: its sites stop, its legacy secrets are shredded, and grants that reach
    only its sites are revoked (a grant reaching another tenant's site stays for that tenant)."""
    if not reason.strip():
        raise DomainError("offboarding a tenant needs a reason")
    locked, changed = _set_tenant_status(
        tenant=tenant,
        to=Tenant.Status.OFFBOARDED,
        allowed_from={Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED},
        reason=reason.strip(),
        action="tenant.offboarded",
        acting_user=acting_user,
        request=request,
    )
    if not changed:
        return False
    now = timezone.now()
    Tenant.objects.filter(pk=locked.pk).update(offboarded_at=now)
    sites = list(JiraSite.objects.select_for_update().filter(tenant=locked))
    for site in sites:
        site.status, site.status_reason, site.status_changed_at = (
            JiraSite.Status.OFFBOARDED,
            f"tenant offboarded: {reason.strip()}",
            now,
        )
        site.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
    schedules_follow([site.pk for site in sites], reason="status")
    for credential in locked.legacy_credentials.exclude(status="purged"):
        legacy_credential_purge(
            credential=credential,
            reason="tenant offboarded",
            acting_user=acting_user,
            request=request,
        )
    grants = OAuthGrant.objects.filter(grant_sites__site__tenant=locked).distinct()
    for grant in grants:
        if not grant.grant_sites.exclude(site__tenant=locked).exists():
            grant_revoke(
                grant=grant, reason="tenant offboarded", acting_user=acting_user, request=request
            )
    return True


def _owner_count(tenant: Tenant) -> int:
    return Membership.objects.filter(tenant=tenant, role=Membership.Role.OWNER).count()


@transaction.atomic
def membership_add(
    *,
    tenant: Tenant,
    user: User,
    role: str,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> Membership:
    if role not in Membership.Role.values:
        raise DomainError(f"unknown role {role!r}")
    locked = _locked(tenant)
    if Membership.objects.filter(tenant=locked, user=user).exists():
        raise DomainError(f"{user} is already a member of {locked.slug}")
    membership = Membership.objects.create(tenant=locked, user=user, role=role)
    record_event(
        actor=acting_user,
        action="membership.added",
        target=membership,
        tenant=locked,
        summary={"user_id": user.pk, "role": role},
        request=request,
    )
    return membership


@transaction.atomic
def membership_change_role(
    *,
    membership: Membership,
    role: str,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> Membership:
    if role not in Membership.Role.values:
        raise DomainError(f"unknown role {role!r}")
    # Lock the tenant first so two demotions cannot both see "another owner is left".
    tenant = _locked(membership.tenant)
    locked = Membership.objects.select_for_update().get(pk=membership.pk)
    if locked.role == role:
        return locked
    if locked.role == Membership.Role.OWNER and _owner_count(tenant) == 1:
        raise LastOwner()
    previous = locked.role
    locked.role = role
    locked.save(update_fields=["role", "updated_at"])
    record_event(
        actor=acting_user,
        action="membership.role_changed",
        target=locked,
        tenant=tenant,
        summary={"user_id": locked.user_id, "from": previous, "to": role},
        request=request,
    )
    return locked


@transaction.atomic
def membership_remove(
    *, membership: Membership, acting_user: User | None, request: HttpRequest | None = None
) -> None:
    tenant = _locked(membership.tenant)
    locked = Membership.objects.select_for_update().get(pk=membership.pk)
    if locked.role == Membership.Role.OWNER and _owner_count(tenant) == 1:
        raise LastOwner()
    record_event(
        actor=acting_user,
        action="membership.removed",
        target=locked,
        tenant=tenant,
        summary={"user_id": locked.user_id, "role": locked.role},
        request=request,
    )
    locked.delete()
