"""The one OAuth callback, for the connect page and the migration wizard alike.

``handle_callback`` takes the answer Atlassian sent back: state check → the caller still
manages the tenant → denial or error → code exchange → scope check → accessible resources →
(connect: the choice of sites when the consent reaches several, ``choose_sites``; migration:
the case's expected site) → no site of another tenant → admin check and test read per site →
grant and sites stored through the tenants services, in one transaction → audit.

A refused consent stores nothing: on the connect page the customer sees why
(``ConnectError``); in the wizard the case fails with the same message. Every state attack, denial
and refusal leaves an audit row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from portal.access import require_tenant_manager
from portal.exceptions import ConnectError, NotTenantManager
from portal.flows import migration, oauth
from portal.flows.oauth import Caller, Exchange
from portal.models import OAuthState, PendingConnection
from tenants.exceptions import DomainError, SiteOwnedByAnotherTenant
from tenants.models import JiraSite, MigrationCase
from tenants.services.grants import grant_upsert
from tenants.services.sites import site_link_to_tenant, site_use_grant

PENDING_TTL = timedelta(minutes=10)


@dataclass
class CallbackResult:
    """``outcome``: ``connected`` (``sites``), ``choose`` (``pending``: the customer picks the
    sites), ``denied`` (declined at Atlassian), and for a migration ``verified`` or ``failed``
    (``case``)."""

    outcome: str
    state: OAuthState
    sites: list[JiraSite] = field(default_factory=list)
    pending: PendingConnection | None = None
    case: MigrationCase | None = None

    @property
    def tenant(self):
        return self.state.tenant


def handle_callback(*, caller: Caller, params: Mapping[str, str]) -> CallbackResult:
    """Complete (or refuse) the consent that ``params`` (the callback's query) answers."""
    state = oauth.consume_state(caller=caller, raw_state=params.get("state"))
    _require_manager(caller, state)
    case = migration.case_of(state)
    result: Exchange | None = None
    try:
        error = params.get("error")
        if error == "access_denied":
            _audit_declined(caller, state, case)
            return CallbackResult("denied", state, case=case)
        if error:
            raise ConnectError(
                f"Atlassian could not complete the authorization ({error[:60]}). Nothing was "
                "connected. Please try again.",
                code="atlassian_error",
                tenant=state.tenant,
            )
        code = params.get("code")
        if not code:
            raise ConnectError(
                "Atlassian's answer carried no authorization code. Nothing was connected.",
                code="code_missing",
                tenant=state.tenant,
            )
        if case is not None:
            migration.check_awaiting_consent(case)
        result = oauth.exchange(code=code, tenant=state.tenant)
        oauth.check_scopes(result=result, tenant=state.tenant)
        if case is not None:
            migration.check_reconsent_scopes(case, result)
            chosen = [migration.expected_resource(case, result)]
        elif len(result.resources) > 1:
            return CallbackResult("choose", state, pending=_keep_pending(state, result))
        else:
            chosen = result.resources
        return _verify_and_store(caller, state, result, chosen, case)
    except ConnectError as error:
        return _failed(caller, state, case, error, result)


def pending_for(*, caller: Caller, pending_id) -> PendingConnection:
    """The exchange waiting for this session's choice of sites."""
    pending = (
        PendingConnection.objects.select_related("state", "state__tenant")
        .filter(pk=pending_id)
        .first()
    )
    if pending is None or not oauth.bound_to(pending.state, caller):
        raise ConnectError(
            "This choice of sites is not available (it was completed, or started in another "
            "session). Please start again.",
            code="pending_unknown",
            status=404,
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
    _require_manager(caller, pending.state)
    return pending


def choose_sites(*, caller: Caller, pending: PendingConnection, chosen_ids) -> CallbackResult:
    """Verify and store the sites the customer chose; one attempt per consent."""
    state = pending.state
    result = Exchange(
        account_id=pending.account_id,
        account_name=pending.account_name,
        account_email=pending.account_email,
        access_token=pending.access_token,
        refresh_token=pending.refresh_token,
        expires_at=pending.access_token_expires_at,
        scopes=list(pending.scopes),
        resources=list(pending.resources),
    )
    by_id = {r["id"]: r for r in result.resources}
    chosen = [by_id[c] for c in dict.fromkeys(chosen_ids) if c in by_id]
    try:
        if not chosen:
            raise ConnectError(
                "Choose at least one of the sites your authorization reaches.",
                code="nothing_chosen",
                tenant=state.tenant,
            )
        return _verify_and_store(caller, state, result, chosen, None)
    except ConnectError as error:
        return _failed(caller, state, None, error, result)
    finally:
        # The tokens are not kept around after a decision.
        pending.delete()


def _require_manager(caller: Caller, state: OAuthState) -> None:
    """The caller must still manage the tenant when the answer arrives (audited if not)."""
    try:
        require_tenant_manager(user=caller.user, tenant=state.tenant)
    except NotTenantManager:
        caller.audit(
            action="connect.callback_refused",
            tenant=state.tenant,
            summary={"reason": "not_tenant_manager", "purpose": state.purpose},
        )
        raise


def _audit_declined(caller: Caller, state: OAuthState, case: MigrationCase | None) -> None:
    if case is not None:
        caller.audit(
            action="migration_case.consent_declined",
            tenant=state.tenant,
            target=case,
            summary={"cloud_id": case.site.cloud_id},
        )
    else:
        caller.audit(
            action="connect.consent_declined", tenant=state.tenant, summary={"state": state.pk}
        )


def _failed(
    caller: Caller,
    state: OAuthState,
    case: MigrationCase | None,
    error: ConnectError,
    result: Exchange | None,
) -> CallbackResult:
    """A refused consent is audited; in the wizard it fails the case (the authorize step shows
    why), otherwise the error page shows it. Other errors change nothing."""
    error.tenant = error.tenant or state.tenant
    error.case = error.case or case
    account_id = result.account_id if result is not None else ""
    if error.refusal and case is not None:
        migration.fail(caller=caller, case=case, error=error, account_id=account_id)
        return CallbackResult("failed", state, case=case)
    if error.refusal:
        caller.audit(
            action="connect.verification_refused",
            tenant=state.tenant,
            summary={"problem": error.code, "account_id": account_id},
        )
    raise error


def _keep_pending(state: OAuthState, result: Exchange) -> PendingConnection:
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


def _verify_and_store(
    caller: Caller,
    state: OAuthState,
    result: Exchange,
    chosen: list[dict],
    case: MigrationCase | None,
) -> CallbackResult:
    """All or nothing: if one chosen site is refused, nothing is stored."""
    tenant = state.tenant
    oauth.check_can_connect(tenant)
    oauth.check_scopes(result=result, tenant=tenant, resources=chosen)
    oauth.refuse_foreign_sites(
        caller=caller, tenant=tenant, resources=chosen, account_id=result.account_id
    )
    for resource in chosen:
        oauth.verify_site(resource=resource, result=result, tenant=tenant)
    by_id = {r["id"]: r for r in chosen}
    try:
        with transaction.atomic():
            if case is not None:
                sites = [migration.resolve_site(caller=caller, case=case, resource=chosen[0])]
            else:
                sites = [
                    site_link_to_tenant(
                        tenant=tenant,
                        cloud_id=r["id"],
                        url=r["url"],
                        name=r["name"],
                        acting_user=caller.user,
                        request=caller.request,
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
                acting_user=caller.user,
                request=caller.request,
            )
            if case is not None and case.is_reconsent:
                migration.complete_reconsent(caller=caller, case=case, site=sites[0], grant=grant)
                return CallbackResult("verified", state, sites=sites, case=case)
            if case is not None:
                # The wizard's own step: the switch waits for the customer's "cut over".
                migration.mark_verified(caller=caller, case=case)
                return CallbackResult("verified", state, sites=sites, case=case)
            sites = [
                site_use_grant(
                    site=site, grant=grant, acting_user=caller.user, request=caller.request
                )
                for site in sites
            ]
    except SiteOwnedByAnotherTenant:  # lost a race with another tenant's connect
        raise oauth.site_of_another_customer(tenant, chosen[0]["url"]) from None
    except DomainError as exc:
        raise ConnectError(
            f"We could not store the connection: {exc}. Nothing was connected.",
            code="store_failed",
            tenant=tenant,
        ) from None
    return CallbackResult("connected", state, sites=sites)
