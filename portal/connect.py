"""The connect flow: a tenant owner or admin connects Jira sites through the vendor's 3LO app.

One plain function per step (like allauth's flows), called by the thin views in
``portal/views_connect.py``:

1. ``start`` mints a one-time ``state`` (bound to session, user, tenant and purpose, valid ten
   minutes; only its hash is stored) and returns Atlassian's authorize URL.
2. ``consume_state`` checks the ``state`` of the callback before anything else.
3. ``exchange`` trades the code for tokens (JSON body, through ``atlassian.AuthClient``), reads
   ``/me`` and accessible-resources.
4. ``complete`` verifies the user administers every chosen site (``mypermissions``
   ADMINISTER), refuses a site owned by another tenant (audit event + ``SecurityFlag`` for
   staff), then stores or merges the grant and links the sites in one transaction.

Every failure raises ``ConnectError`` with a message for the user and nothing stored.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from atlassian.client import AuthClient, JiraClient
from atlassian.exceptions import (
    ApiForbidden,
    ApiHostError,
    ApiServerError,
    ApiTimeoutError,
    ApiUnauthorized,
    AtlassianError,
    InvalidGrant,
)
from portal.models import OAuthState, PendingConnection, SecurityFlag
from tenants.audit import record_event
from tenants.exceptions import DomainError, SiteOwnedByAnotherTenant
from tenants.models import JiraSite, Tenant, User
from tenants.services.grants import grant_upsert
from tenants.services.sites import site_link_to_tenant, site_use_grant

logger = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
PENDING_TTL = timedelta(minutes=10)


class ConnectError(Exception):
    """A connect attempt failed; ``message`` is for the user, ``title`` heads the page.
    ``retry`` offers a "try again" button; ``status`` is the HTTP status of the page."""

    def __init__(
        self,
        message: str,
        *,
        title: str = "We could not connect your Jira site",
        code: str = "failed",
        status: int = 400,
        retry: bool = True,
        tenant: Tenant | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.title = title
        self.code = code
        self.status = status
        self.retry = retry
        self.tenant = tenant


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key


# ---------------------------------------------------------------------------- 1. start


def start(*, request: HttpRequest, tenant: Tenant, user: User) -> str:
    """Mint a one-time state and return the URL of Atlassian's consent page."""
    if tenant.status == Tenant.Status.OFFBOARDED:
        raise ConnectError(
            "This customer account was closed, so no Jira site can be connected to it.",
            code="tenant_offboarded",
            status=403,
            retry=False,
        )
    raw = secrets.token_urlsafe(32)
    OAuthState.objects.create(
        token_hash=_hash(raw),
        user=user,
        session_key_hash=_hash(_session_key(request)),
        tenant=tenant,
        purpose=OAuthState.Purpose.CONNECT,
        expires_at=timezone.now() + STATE_TTL,
    )
    query = urlencode(
        {
            "audience": "api.atlassian.com",
            "client_id": settings.ATLASSIAN_CLIENT_ID,
            "scope": settings.ATLASSIAN_SCOPES,
            "redirect_uri": settings.ATLASSIAN_REDIRECT_URI,
            "state": raw,
            "response_type": "code",
            "prompt": "consent",
        }
    )
    return f"{settings.ATLASSIAN_AUTH_URL.rstrip('/')}/authorize?{query}"


# ---------------------------------------------------------------------------- 2. state


def consume_state(*, request: HttpRequest, raw_state: str | None) -> OAuthState:
    """The state row for this callback, consumed (one use). Checked before anything else."""
    if not raw_state:
        raise ConnectError(
            "The answer from Atlassian carried no state, so we cannot tell it was meant for "
            "you. Nothing was connected. Please start again.",
            code="state_missing",
            retry=False,
        )
    now = timezone.now()
    found = OAuthState.objects.select_related("tenant").filter(token_hash=_hash(raw_state)).first()
    if found is None:
        logger.warning("connect callback with an unknown state")
        raise ConnectError(
            "This link does not match any connection you started. Nothing was connected. "
            "Please start again from your site list.",
            code="state_unknown",
            retry=False,
        )
    if (
        found.user_id != request.user.pk
        or found.session_key_hash != _hash(request.session.session_key or "")
        or found.purpose != OAuthState.Purpose.CONNECT
    ):
        logger.warning("connect callback with a state from another session (state %s)", found.pk)
        raise ConnectError(
            "This connection was started in another browser session. For your safety nothing "
            "was connected. Please start again here.",
            code="state_other_session",
            retry=False,
        )
    if found.consumed_at is not None:
        logger.warning("connect callback replayed a used state (state %s)", found.pk)
        raise ConnectError(
            "This connection link was already used. Nothing more was connected. Please start "
            "again if you want to connect another site.",
            code="state_replayed",
            tenant=found.tenant,
        )
    if found.expires_at <= now:
        raise ConnectError(
            "This connection attempt expired (you have ten minutes to authorize). Nothing was "
            "connected. Please try again.",
            code="state_expired",
            tenant=found.tenant,
        )
    # Conditional update: of two concurrent callbacks with the same state, exactly one wins.
    claimed = OAuthState.objects.filter(pk=found.pk, consumed_at__isnull=True).update(
        consumed_at=now
    )
    if claimed != 1:
        raise ConnectError(
            "This connection link was already used. Please start again.",
            code="state_replayed",
            tenant=found.tenant,
        )
    found.consumed_at = now
    return found


def check_membership(*, state: OAuthState, user: User) -> None:
    """The user must still manage the tenant when the callback arrives."""
    from portal.selectors import managing_membership

    if managing_membership(user=user, tenant=state.tenant) is None:
        raise ConnectError(
            "Only owners and admins of this customer can connect Jira sites.",
            code="not_allowed",
            status=403,
            retry=False,
        )


# ---------------------------------------------------------------------------- 3. exchange


@dataclass
class Exchange:
    account_id: str
    account_name: str
    account_email: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scopes: list[str]
    resources: list[dict]  # [{"id", "name", "url", "scopes"}], Jira only, unique ids


def _unavailable(tenant: Tenant) -> ConnectError:
    return ConnectError(
        "Atlassian is not answering right now, so your site was not connected. Nothing was "
        "stored. Please try again in a few minutes.",
        title="Atlassian is unavailable",
        code="atlassian_unavailable",
        status=502,
        tenant=tenant,
    )


def exchange(*, code: str, tenant: Tenant) -> Exchange:
    """Trade the code for tokens and learn who consented and which sites the grant reaches."""
    with AuthClient() as client:
        try:
            tokens = client.exchange_code(code, settings.ATLASSIAN_REDIRECT_URI)
        except InvalidGrant:
            raise ConnectError(
                "Atlassian did not accept this authorization (it was already used or has "
                "expired). Nothing was connected. Please try again.",
                code="code_rejected",
                tenant=tenant,
            ) from None
        except (ApiServerError, ApiTimeoutError, ApiHostError):
            raise _unavailable(tenant) from None
        except AtlassianError as exc:
            logger.warning("code exchange failed: %s", exc)
            raise ConnectError(
                "Atlassian refused to complete the authorization. Nothing was connected. "
                "Please try again, or contact support if it keeps failing.",
                code="exchange_failed",
                tenant=tenant,
            ) from None
        if not tokens.refresh_token:
            raise ConnectError(
                "Atlassian did not grant offline access, which backups need. Nothing was "
                "connected. Please try again and accept every requested permission.",
                code="no_offline_access",
                tenant=tenant,
            )
        try:
            me = client.me(tokens.access_token)
            resources = client.accessible_resources(tokens.access_token)
        except (ApiServerError, ApiTimeoutError, ApiHostError):
            raise _unavailable(tenant) from None
        except AtlassianError as exc:
            logger.warning("reading the new grant's identity failed: %s", exc)
            raise ConnectError(
                "We could not read your Atlassian account details. Nothing was connected. "
                "Please try again.",
                code="identity_failed",
                tenant=tenant,
            ) from None
    seen: dict[str, dict] = {}
    for resource in resources:
        if resource.is_jira and resource.id not in seen:
            seen[resource.id] = {
                "id": resource.id,
                "name": resource.name,
                "url": resource.url,
                "scopes": list(resource.scopes),
            }
    if not seen:
        raise ConnectError(
            "Your authorization does not reach any Jira site. Nothing was connected. When "
            "Atlassian asks, choose the Jira site you want to back up.",
            code="no_site",
            tenant=tenant,
        )
    return Exchange(
        account_id=me.account_id,
        account_name=me.name,
        account_email=me.email,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=timezone.now() + timedelta(seconds=tokens.expires_in),
        scopes=sorted(tokens.scopes),
        resources=list(seen.values()),
    )


def keep_pending(*, state: OAuthState, result: Exchange) -> PendingConnection:
    """Hold an exchange (tokens encrypted) until the user chooses sites; ten minutes at most."""
    pending = PendingConnection(
        state=state,
        account_id=result.account_id,
        account_name=result.account_name,
        account_email=result.account_email,
        scopes=result.scopes,
        resources=result.resources,
        access_token_expires_at=result.expires_at,
        expires_at=timezone.now() + PENDING_TTL,
    )
    pending.access_token = result.access_token
    pending.refresh_token = result.refresh_token
    pending.save()
    return pending


def load_pending(*, request: HttpRequest, pending_id) -> PendingConnection:
    pending = (
        PendingConnection.objects.select_related("state", "state__tenant")
        .filter(pk=pending_id)
        .first()
    )
    if (
        pending is None
        or pending.state.user_id != request.user.pk
        or pending.state.session_key_hash != _hash(request.session.session_key or "")
    ):
        raise ConnectError(
            "This choice of sites is not available (it was completed, or started in another "
            "session). Please start again.",
            code="pending_unknown",
            retry=False,
        )
    if pending.expires_at <= timezone.now():
        tenant = pending.state.tenant
        pending.delete()
        raise ConnectError(
            "You took longer than ten minutes to choose. Nothing was connected. Please start "
            "again.",
            code="pending_expired",
            tenant=tenant,
        )
    return pending


def exchange_from_pending(pending: PendingConnection) -> Exchange:
    return Exchange(
        account_id=pending.account_id,
        account_name=pending.account_name,
        account_email=pending.account_email,
        access_token=pending.access_token,
        refresh_token=pending.refresh_token,
        expires_at=pending.access_token_expires_at,
        scopes=list(pending.scopes),
        resources=list(pending.resources),
    )


# ---------------------------------------------------------------------------- 4. complete


def _refuse_foreign_site(
    *, request: HttpRequest, tenant: Tenant, user: User, resource: dict, owner: Tenant, account_id
) -> None:
    """Record (and commit) the refusal: an audit row for the tenant that tried, and a flag that
    staff see in the admin. The owning tenant's data is untouched."""
    with transaction.atomic():
        record_event(
            actor=user,
            action="connect.site_refused_other_tenant",
            target=tenant,
            tenant=tenant,
            summary={
                "cloud_id": resource["id"],
                "url": resource["url"],
                "owner_tenant_id": owner.pk,
                "account_id": account_id,
            },
            request=request,
        )
        SecurityFlag.objects.create(
            kind=SecurityFlag.Kind.SITE_CLAIMED_BY_OTHER_TENANT,
            tenant=tenant,
            other_tenant=owner,
            user=user,
            cloud_id=resource["id"],
            detail=(
                f"{user.email} (Atlassian account {account_id}) of {tenant.slug} tried to "
                f"connect {resource['url']}, which belongs to {owner.slug}"
            ),
        )


def _verify_admin(*, resource: dict, access_token: str, tenant: Tenant) -> None:
    client = JiraClient.for_grant(resource["id"], token_provider=lambda: access_token)
    try:
        with client:
            is_admin = client.has_permission("ADMINISTER")
    except (ApiServerError, ApiTimeoutError, ApiHostError):
        raise _unavailable(tenant) from None
    except (ApiForbidden, ApiUnauthorized, AtlassianError) as exc:
        logger.warning("permission check on %s failed: %s", resource["id"], exc)
        is_admin = False
    if not is_admin:
        raise ConnectError(
            f"Your Atlassian account is not an administrator of {resource['url']}. Only a Jira "
            "site administrator can connect a site for backup. Nothing was connected; ask a "
            "site administrator to connect it.",
            title="Site administrator needed",
            code="not_site_admin",
            status=403,
            tenant=tenant,
        )


def complete(
    *,
    request: HttpRequest,
    tenant: Tenant,
    user: User,
    result: Exchange,
    chosen_ids: list[str],
) -> list[JiraSite]:
    """Verify and store. All or nothing: if one chosen site is refused, nothing is stored."""
    if Tenant.objects.filter(pk=tenant.pk, status=Tenant.Status.OFFBOARDED).exists():
        raise ConnectError(
            "This customer account was closed, so no Jira site can be connected to it.",
            code="tenant_offboarded",
            status=403,
            retry=False,
        )
    by_id = {r["id"]: r for r in result.resources}
    chosen = [by_id[c] for c in dict.fromkeys(chosen_ids) if c in by_id]
    if not chosen:
        raise ConnectError(
            "Choose at least one of the sites your authorization reaches.",
            code="nothing_chosen",
            tenant=tenant,
        )
    for resource in chosen:
        owner_id = (
            JiraSite.objects.filter(cloud_id=resource["id"])
            .values_list("tenant_id", flat=True)
            .first()
        )
        if owner_id is not None and owner_id != tenant.pk:
            owner = Tenant.objects.get(pk=owner_id)
            _refuse_foreign_site(
                request=request,
                tenant=tenant,
                user=user,
                resource=resource,
                owner=owner,
                account_id=result.account_id,
            )
            raise ConnectError(
                f"The Jira site {resource['url']} is already connected to another customer "
                "account, so it cannot be connected here. Nothing was connected. Our support "
                "team has been notified; contact them if you believe this is wrong.",
                title="This site belongs to another customer",
                code="site_other_tenant",
                status=409,
                retry=False,
                tenant=tenant,
            )
    for resource in chosen:
        _verify_admin(resource=resource, access_token=result.access_token, tenant=tenant)
    try:
        with transaction.atomic():
            sites = [
                site_link_to_tenant(
                    tenant=tenant,
                    cloud_id=r["id"],
                    url=r["url"],
                    name=r["name"],
                    acting_user=user,
                    request=request,
                )
                for r in chosen
            ]
            grant = grant_upsert(
                account_id=result.account_id,
                account_name=result.account_name,
                account_email=result.account_email,
                scopes=result.scopes,
                access_token=result.access_token,
                refresh_token=result.refresh_token,
                access_token_expires_at=result.expires_at,
                sites=[(site, by_id[site.cloud_id]["scopes"]) for site in sites],
                acting_user=user,
                request=request,
            )
            sites = [
                site_use_grant(site=site, grant=grant, acting_user=user, request=request)
                for site in sites
            ]
    except SiteOwnedByAnotherTenant:  # lost a race with another tenant's connect
        raise ConnectError(
            "One of the chosen sites was just connected to another customer account. Nothing "
            "was connected.",
            title="This site belongs to another customer",
            code="site_other_tenant",
            status=409,
            retry=False,
            tenant=tenant,
        ) from None
    except DomainError as exc:
        logger.warning("storing the connection failed: %s", exc)
        raise ConnectError(
            f"We could not store the connection: {exc}. Nothing was connected.",
            code="store_failed",
            tenant=tenant,
        ) from None
    logger.info("tenant %s connected %d site(s)", tenant.slug, len(sites))
    return sites
