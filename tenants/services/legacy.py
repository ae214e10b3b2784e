"""Legacy credentials (API tokens, customers' own OAuth apps): imported once, then migrated to the
vendor app and crypto-shredded."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from tenants import keys
from tenants.audit import record_event
from tenants.exceptions import DomainError
from tenants.fields import encrypted_secrets, scope_of
from tenants.models import JiraSite, LegacyCredential, Tenant, User
from tenants.services.schedules import schedules_follow

logger = logging.getLogger(__name__)


@transaction.atomic
def legacy_credential_create(
    *,
    tenant: Tenant,
    kind: str,
    site_url: str = "",
    email: str = "",
    api_token: str | None = None,
    client_id: str = "",
    client_secret: str | None = None,
    access_token: str | None = None,
    refresh_token: str | None = None,
    access_token_expires_at: datetime | None = None,
    acting_user: User | None,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> LegacyCredential:
    """Record a legacy connection (used only by the import command). From
    ``settings.LEGACY_CUTOFF`` on, Atlassian forbids us to hold such secrets: the connection is
    still recorded (so its site gets a migration case) but no secret is stored."""
    now = now or timezone.now()
    if kind == LegacyCredential.Kind.API_TOKEN:
        if not email:
            raise DomainError("an API-token credential needs the account e-mail")
        if client_id or client_secret or access_token or refresh_token:
            raise DomainError("an API-token credential carries only an e-mail and a token")
    elif kind == LegacyCredential.Kind.CUSTOMER_APP:
        if not client_id:
            raise DomainError("a customer-app credential needs the app's client id")
        if api_token:
            raise DomainError("a customer-app credential carries no API token")
    else:
        raise DomainError(f"unknown legacy credential kind {kind!r}")

    withheld = now >= settings.LEGACY_CUTOFF
    credential = LegacyCredential(
        tenant=tenant,
        kind=kind,
        site_url=site_url.rstrip("/"),
        email=email,
        client_id=client_id,
        secret_withheld=withheld,
    )
    if not withheld:
        credential.api_token = api_token
        credential.client_secret = client_secret
        credential.access_token = access_token
        credential.refresh_token = refresh_token
        credential.access_token_expires_at = access_token_expires_at
    else:
        logger.warning(
            "legacy credential for %s recorded without its secret: LEGACY_CUTOFF has passed",
            credential.site_url or tenant.slug,
        )
    credential.save()
    record_event(
        actor=acting_user,
        action="legacy_credential.created",
        target=credential,
        tenant=tenant,
        summary={
            "kind": kind,
            "site_url": credential.site_url,
            "client_id": client_id,
            "secret_stored": credential.has_secret,
            "secret_withheld_after_cutoff": withheld,
        },
        request=request,
    )
    return credential


def _shred(credential: LegacyCredential) -> list[str]:
    """NULL every ciphertext column; returns the names of the secrets that were present."""
    destroyed = []
    for name, secret in encrypted_secrets(LegacyCredential).items():
        if getattr(credential, secret.column):
            destroyed.append(name)
        setattr(credential, secret.column, None)
    credential.access_token_expires_at = None
    return destroyed


@transaction.atomic
def legacy_credential_purge(
    *,
    credential: LegacyCredential,
    reason: str = "",
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> bool:
    """Crypto-shred the credential: its ciphertext columns are set to NULL (the database CHECK
    ``legacycred_purged_has_no_secret`` holds it), it becomes ``purged``, and its data key is
    destroyed in the key store once this commits, so every old version of its secrets (dead
    tuples, WAL, replicas, database backups) becomes undecryptable. The data key is the
    credential's own (``tenants.fields``): no other secret is sealed with it, so nothing else has
    to be re-encrypted first. Idempotent: the row is locked and a purged credential returns
    False. Sites still using it lose their credential and need re-authorization."""
    locked = (
        LegacyCredential.objects.select_for_update().select_related("tenant").get(pk=credential.pk)
    )
    if locked.status == LegacyCredential.Status.PURGED:
        return False
    previous = locked.status
    destroyed = _shred(locked)
    locked.status, locked.purged_at = LegacyCredential.Status.PURGED, timezone.now()
    locked.save()
    data_keys = keys.destroy_scope(scope_of(locked))
    orphaned, orphaned_ids = [], []
    for site in JiraSite.objects.select_for_update().filter(legacy_credential=locked):
        site.legacy_credential = None
        if site.status == JiraSite.Status.ACTIVE:
            site.status, site.status_reason, site.status_changed_at = (
                JiraSite.Status.NEEDS_REAUTH,
                "legacy credential purged: connect the vendor app",
                locked.purged_at,
            )
        site.save()
        orphaned.append(site.cloud_id)
        orphaned_ids.append(site.pk)
    schedules_follow(orphaned_ids, reason="credential")
    record_event(
        actor=acting_user,
        action="legacy_credential.purged",
        target=locked,
        tenant=locked.tenant,
        summary={
            "kind": locked.kind,
            "from": previous,
            "reason": reason,
            "secrets_destroyed": destroyed,
            "data_keys_destroyed": data_keys,
            "sites_left_without_credential": orphaned,
        },
        request=request,
    )
    logger.info("legacy credential %s purged (%s)", locked.pk, ", ".join(destroyed) or "no secret")
    # The caller's copy must not keep the ciphertext in memory either.
    _shred(credential)
    credential.status, credential.purged_at = locked.status, locked.purged_at
    return True
