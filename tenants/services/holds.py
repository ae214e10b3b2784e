"""Legal holds (issue 22): placed on a tenant or one site, released with a reason; both audited
in the same transaction. While a hold is active, retention prunes none of the held snapshots
and offboarding erases nothing (``tenants.selectors.hold_on``)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from tenants.audit import record_event
from tenants.exceptions import DomainError
from tenants.models import JiraSite, LegalHold, Tenant, User


@transaction.atomic
def legal_hold_place(
    *,
    tenant: Tenant | None = None,
    site: JiraSite | None = None,
    reason: str,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> LegalHold:
    if (tenant is None) == (site is None):
        raise DomainError("a legal hold is on a tenant or on one site: name exactly one")
    if not reason.strip():
        raise DomainError("a legal hold needs a reason")
    hold = LegalHold.objects.create(
        tenant=tenant, site=site, reason=reason.strip(), placed_by=acting_user
    )
    record_event(
        actor=acting_user,
        action="legal_hold.placed",
        target=hold,
        tenant=tenant or site.tenant,
        summary={"on": "tenant" if tenant else "site", "reason": hold.reason},
        request=request,
    )
    return hold


@transaction.atomic
def legal_hold_release(
    *, hold: LegalHold, reason: str, acting_user: User | None, request: HttpRequest | None = None
) -> LegalHold:
    if not reason.strip():
        raise DomainError("releasing a legal hold needs a reason")
    locked = (
        LegalHold.objects.select_for_update(of=("self",))
        .select_related("tenant", "site")
        .get(pk=hold.pk)
    )
    if locked.released_at is not None:
        raise DomainError("this legal hold is already released")
    locked.released_at, locked.released_by = timezone.now(), acting_user
    locked.release_reason = reason.strip()
    locked.save(update_fields=["released_at", "released_by", "release_reason"])
    record_event(
        actor=acting_user,
        action="legal_hold.released",
        target=locked,
        tenant=locked.tenant or locked.site.tenant,
        summary={"reason": locked.release_reason, "placed_at": locked.placed_at.isoformat()},
        request=request,
    )
    return locked


@transaction.atomic
def tenant_set_kms_key(
    *, tenant: Tenant, kms_key_id: str, acting_user: User | None, request: HttpRequest | None = None
) -> Tenant:
    """Name the tenant's own AWS KMS key (ARN or alias; "" = the platform's keys) for its
    snapshot data key. The key is re-wrapped by the next ``rotate_encryption_keys``; until then
    the copy under the platform key still opens it."""
    value = kms_key_id.strip()
    if value and not (value.startswith("arn:aws:kms:") or value.startswith("alias/")):
        raise DomainError("a KMS key is named by its ARN (arn:aws:kms:…) or an alias (alias/…)")
    locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
    before = locked.kms_key_id
    locked.kms_key_id = value
    locked.save(update_fields=["kms_key_id", "updated_at"])
    record_event(
        actor=acting_user,
        action="tenant.kms_key_set",
        target=locked,
        tenant=locked,
        summary={"kms_key_id": value or "platform", "before": before or "platform"},
        request=request,
    )
    return locked
