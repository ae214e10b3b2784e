"""The steps every 3LO consent shares, whether it comes from the connect page or the wizard.

1. ``start`` mints a one-time ``state`` (bound to session, user, tenant and purpose, and for a
   migration to its case; valid ten minutes; only its hash is stored) and returns Atlassian's
   authorize URL. Views call it on POST only: a link or a prefetch must not mint states.
2. ``consume_state`` checks the callback's ``state`` before anything else; every refusal is
   audited (``connect.state_refused``), so staff see forged, replayed and cross-session answers.
3. ``exchange`` trades the code for tokens and reads ``/me`` and accessible-resources.
4. ``check_scopes`` (``tenants.scopes``, the one scope check), ``refuse_foreign_sites`` and
   ``verify_site`` (``mypermissions`` ADMINISTER, then a test read) decide whether the consent
   may be stored. An Atlassian error during them is shown as what it is (a rate limit, an
   outage, a refusal), never as "not an administrator".

Every failure raises ``ConnectError`` with a message for the customer, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from atlassian.client import AuthClient, JiraClient
from atlassian.exceptions import (
    ApiHostError,
    ApiRateLimited,
    ApiServerError,
    ApiTimeoutError,
    AtlassianError,
    InvalidGrant,
)
from atlassian.retry import RetryPolicy
from portal.exceptions import ConnectError
from portal.models import OAuthState, SecurityFlag
from tenants.audit import record_event
from tenants.models import JiraSite, MigrationCase, Tenant, User
from tenants.scopes import missing_scopes

logger = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
# A person is waiting for the checks: retry a transient failure once, quickly, and never sleep
# through a rate-limit hold longer than this (the page says when to try again instead).
INTERACTIVE_MAX_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Caller:
    """Who takes a step: the signed-in user, the session the ``state`` is bound to, and the
    HTTP request for the audit trail (None when a command or the demo seeder drives a flow)."""

    user: User
    session_key: str = field(repr=False)  # a bearer secret of its own
    request: HttpRequest | None = None

    @classmethod
    def of(cls, request: HttpRequest) -> Caller:
        if not request.session.session_key:
            request.session.save()
        return cls(user=request.user, session_key=request.session.session_key, request=request)

    def audit(
        self, *, action: str, tenant: Tenant | None, target=None, summary: dict | None = None
    ) -> None:
        record_event(
            actor=self.user,
            action=action,
            target=target if target is not None else tenant,
            tenant=tenant,
            summary=summary or {},
            request=self.request,
        )


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def bound_to(state: OAuthState, caller: Caller) -> bool:
    """Whether ``state`` was minted for this user in this browser session."""
    return state.user_id == caller.user.pk and state.session_key_hash == _hash(caller.session_key)


# ---------------------------------------------------------------------------- 1. start


def check_can_connect(tenant: Tenant) -> None:
    """An offboarded customer connects nothing (read fresh: it may have changed meanwhile)."""
    if Tenant.objects.filter(pk=tenant.pk, status=Tenant.Status.OFFBOARDED).exists():
        raise ConnectError(
            "This customer account was closed, so no Jira site can be connected to it.",
            code="tenant_offboarded",
            status=403,
            retry=False,
            tenant=tenant,
        )


def start(*, caller: Caller, tenant: Tenant, case: MigrationCase | None = None) -> str:
    """Mint a one-time state and return the URL of Atlassian's consent page. With ``case`` the
    consent is the wizard's (purpose "migration") and its callback completes that case."""
    check_can_connect(tenant)
    raw = secrets.token_urlsafe(32)
    OAuthState.objects.create(
        token_hash=_hash(raw),
        user=caller.user,
        session_key_hash=_hash(caller.session_key),
        tenant=tenant,
        purpose=OAuthState.Purpose.MIGRATION if case else OAuthState.Purpose.CONNECT,
        migration_case=case,
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


def _refuse_state(
    caller: Caller, reason: str, found: OAuthState | None, error: ConnectError
) -> ConnectError:
    """Audit a refused ``state`` (committed even though the request fails) and return the
    error to raise. The tenant is the one the state was minted for, when it is known."""
    summary = {"reason": reason}
    if found is not None:
        summary |= {"state": found.pk, "purpose": found.purpose, "started_by": found.user_id}
    caller.audit(
        action="connect.state_refused",
        tenant=found.tenant if found is not None else None,
        target=found.migration_case if found is not None else None,
        summary=summary,
    )
    return error


def consume_state(*, caller: Caller, raw_state: str | None) -> OAuthState:
    """The state row for this callback, consumed (one use). Checked before anything else."""
    if not raw_state:
        raise _refuse_state(
            caller,
            "state_missing",
            None,
            ConnectError(
                "The answer from Atlassian carried no state, so we cannot tell it was meant for "
                "you. Nothing was connected. Please start again.",
                code="state_missing",
                retry=False,
            ),
        )
    now = timezone.now()
    found = (
        OAuthState.objects.select_related("tenant", "migration_case__site__tenant")
        .filter(token_hash=_hash(raw_state))
        .first()
    )
    if found is None:
        logger.warning("connect callback with an unknown state")
        raise _refuse_state(
            caller,
            "state_unknown",
            None,
            ConnectError(
                "This link does not match any connection you started. Nothing was connected. "
                "Please start again from your site list.",
                code="state_unknown",
                retry=False,
            ),
        )
    if not bound_to(found, caller):
        logger.warning("connect callback with a state from another session (state %s)", found.pk)
        raise _refuse_state(
            caller,
            "state_other_session",
            found,
            ConnectError(
                "This connection was started in another browser session. For your safety "
                "nothing was connected. Please start again here.",
                code="state_other_session",
                retry=False,
            ),
        )
    replayed = ConnectError(
        "This connection link was already used. Nothing more was connected. Please start "
        "again if you want to connect another site.",
        code="state_replayed",
        tenant=found.tenant,
        case=found.migration_case,
    )
    if found.consumed_at is not None:
        logger.warning("connect callback replayed a used state (state %s)", found.pk)
        raise _refuse_state(caller, "state_replayed", found, replayed)
    if found.expires_at <= now:
        raise _refuse_state(
            caller,
            "state_expired",
            found,
            ConnectError(
                "This connection attempt expired (you have ten minutes to authorize). Nothing "
                "was connected. Please try again.",
                code="state_expired",
                tenant=found.tenant,
                case=found.migration_case,
            ),
        )
    # Conditional update: of two concurrent callbacks with the same state, exactly one wins.
    claimed = OAuthState.objects.filter(pk=found.pk, consumed_at__isnull=True).update(
        consumed_at=now
    )
    if claimed != 1:
        raise _refuse_state(caller, "state_replayed", found, replayed)
    found.consumed_at = now
    return found


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

    @property
    def who(self) -> str:
        return self.account_email or self.account_name or "Your Atlassian account"


def atlassian_failure(
    exc: AtlassianError, *, tenant: Tenant, doing: str, refusal: bool = False
) -> ConnectError:
    """What the customer is told when Atlassian fails us while ``doing`` something: a rate
    limit, an outage, or a refusal, each as what it is. Only a refusal (a definite answer
    about this consent, with ``refusal``) may fail a migration case."""
    if isinstance(exc, ApiRateLimited):
        minutes = max(1, math.ceil((exc.retry_after or 0) / 60))
        return ConnectError(
            f"Atlassian is limiting how often we may call it right now, so we stopped while "
            f"{doing}. Nothing was stored and nothing else changed. Please try again in about "
            f"{minutes} minute{'s' if minutes != 1 else ''}.",
            title="Atlassian asked us to slow down",
            code="atlassian_rate_limited",
            status=503,
            tenant=tenant,
        )
    if isinstance(exc, ApiServerError | ApiTimeoutError | ApiHostError):
        return ConnectError(
            f"Atlassian is not answering right now (while {doing}), so nothing was stored and "
            "nothing else changed. Please try again in a few minutes.",
            title="Atlassian is unavailable",
            code="atlassian_unavailable",
            status=502,
            tenant=tenant,
        )
    logger.warning("atlassian refused while %s: %s", doing, exc)
    return ConnectError(
        f"Atlassian refused our request while {doing} (HTTP {exc.status or 'error'}). Nothing "
        "was stored. Please try again; contact support if it keeps failing.",
        title="Atlassian refused the request",
        code="atlassian_refused",
        status=502,
        refusal=refusal,
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
        except AtlassianError as exc:
            raise atlassian_failure(
                exc, tenant=tenant, doing="completing the authorization"
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
        except AtlassianError as exc:
            raise atlassian_failure(
                exc, tenant=tenant, doing="reading your Atlassian account"
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


# ---------------------------------------------------------------------------- 4. checks


def check_scopes(*, result: Exchange, tenant: Tenant, resources: Sequence[dict] = ()) -> None:
    """Refuse a consent without every scope we need (``tenants.scopes``), naming them."""
    missing = missing_scopes(granted=result.scopes, site_scopes=[r["scopes"] for r in resources])
    if missing:
        raise ConnectError(
            f"The authorization lacks permissions backups need ({', '.join(missing)}). "
            "Nothing was stored. Try again and accept every permission Atlassian lists; if "
            "your organisation restricts app permissions, ask your Atlassian organisation "
            "admin to allow them.",
            title="Permissions missing",
            code="missing_scopes",
            status=403,
            refusal=True,
            tenant=tenant,
        )


def refuse_foreign_sites(
    *, caller: Caller, tenant: Tenant, resources: list[dict], account_id: str
) -> None:
    """Refuse a site another tenant owns: an audit row for the tenant that tried and a flag
    staff see in the admin, committed even though the attempt fails. The owner's data is
    untouched."""
    owners = dict(
        JiraSite.objects.filter(cloud_id__in=[r["id"] for r in resources])
        .exclude(tenant=tenant)
        .values_list("cloud_id", "tenant_id")
    )
    for resource in resources:
        if resource["id"] not in owners:
            continue
        owner = Tenant.objects.get(pk=owners[resource["id"]])
        with transaction.atomic():
            caller.audit(
                action="connect.site_refused_other_tenant",
                tenant=tenant,
                summary={
                    "cloud_id": resource["id"],
                    "url": resource["url"],
                    "owner_tenant_id": owner.pk,
                    "account_id": account_id,
                },
            )
            SecurityFlag.objects.create(
                kind=SecurityFlag.Kind.SITE_CLAIMED_BY_OTHER_TENANT,
                tenant=tenant,
                other_tenant=owner,
                user=caller.user,
                cloud_id=resource["id"],
                detail=(
                    f"{caller.user.email} (Atlassian account {account_id}) of {tenant.slug} "
                    f"tried to connect {resource['url']}, which belongs to {owner.slug}"
                ),
            )
        raise site_of_another_customer(tenant, resource["url"])


def site_of_another_customer(tenant: Tenant, url: str) -> ConnectError:
    return ConnectError(
        f"The Jira site {url} is already connected to another customer account, so it cannot "
        "be connected here. Nothing was connected. Our support team has been notified; contact "
        "them if you believe this is wrong.",
        title="This site belongs to another customer",
        code="site_other_tenant",
        status=409,
        retry=False,
        refusal=True,
        tenant=tenant,
    )


def verify_site(*, resource: dict, result: Exchange, tenant: Tenant) -> None:
    """The consenting account administers the site (``mypermissions`` ADMINISTER) and a test
    read works (``myself``, one page of projects)."""
    token = result.access_token
    url = resource["url"]
    client = JiraClient.for_grant(
        resource["id"],
        token_provider=lambda: token,
        retry=RetryPolicy(max_retries=1, base=1.0, cap=2.0),
        max_wait=INTERACTIVE_MAX_WAIT_SECONDS,
    )
    try:
        with client:
            if not client.has_permission("ADMINISTER"):
                raise ConnectError(
                    f"{result.who} is not an administrator of {url}. Only a Jira site "
                    "administrator can connect a site for backup. Nothing was stored. Ask a "
                    "site administrator to do this (invite them as a teammate), or get "
                    "administrator rights and try again.",
                    title="Site administrator needed",
                    code="not_site_admin",
                    status=403,
                    refusal=True,
                    tenant=tenant,
                )
            client.myself()
            next(iter(client.projects(expand="")), None)
    except AtlassianError as exc:
        raise atlassian_failure(
            exc, tenant=tenant, doing=f"checking your access to {url}", refusal=True
        ) from None
