"""The migration wizard's journey, one plain function per step (the views only parse input,
check permission and call these). The state lives in the ``MigrationCase``; the customer can
leave and resume at any step.

1. Why — plain-language explanation and the deadline (``case_deadline``).
2. Authorize — ``authorize_start`` reuses the connect flow's one-time ``state``
   (``portal.connect.start``) and binds it, in the session, to the purpose "migration" and the
   case, so the shared callback hands the answer back here (``callback_case_id``).
3. Verify — ``complete_authorization``: the new grant reaches the legacy site's ``cloud_id``,
   carries the required scopes, the consenting user administers the site and a test read
   succeeds. Only then is the grant stored (case ``consented`` → ``verified``); a mismatch
   stores nothing and fails the case with a reason that says what to do.
4. Cut over — ``cut_over``: ``site_use_grant`` switches the site in one transaction; the next
   scheduled backup reads the site's credential when it runs, so there is no gap.
5. Remove — ``remove_legacy``: the case completes, which crypto-shreds the legacy secret
   (``legacy_credential_purge``), and the confirmation e-mail goes out on commit.
6. Done.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from atlassian.client import JiraClient
from atlassian.exceptions import (
    ApiForbidden,
    ApiHostError,
    ApiServerError,
    ApiTimeoutError,
    ApiUnauthorized,
    AtlassianError,
)
from portal import connect
from portal.connect import ConnectError, Exchange
from tenants.audit import record_event
from tenants.exceptions import DomainError
from tenants.importer import UNRESOLVED_PREFIX
from tenants.models import JiraSite, MigrationCase, User
from tenants.selectors import grant_for_site
from tenants.services.campaigns import migration_confirmation_send
from tenants.services.grants import grant_upsert
from tenants.services.migration import migration_case_transition
from tenants.services.schedules import schedules_follow
from tenants.services.sites import site_use_grant

logger = logging.getLogger(__name__)

S = MigrationCase.State
PURPOSE = "migration"
SESSION_KEY = "wizard_oauth_states"

STEPS: list[tuple[str, str]] = [
    ("why", "Why"),
    ("authorize", "Authorize"),
    ("verify", "Verify"),
    ("cutover", "Cut over"),
    ("remove", "Remove the old credential"),
    ("done", "Done"),
]
STEP_KEYS = [key for key, _ in STEPS]

# Which step a case resumes at, and which steps it may show.
_RESUME = {
    S.PENDING: "why",
    S.INVITED: "why",
    S.INVITE_EXPIRED: "why",
    S.FAILED: "authorize",
    S.CONSENTED: "verify",
    S.VERIFIED: "verify",
    S.CUT_OVER: "remove",
    S.COMPLETED: "done",
    S.EXEMPT: "why",
}
_ALLOWED = {
    S.PENDING: {"why", "authorize"},
    S.INVITED: {"why", "authorize"},
    S.INVITE_EXPIRED: {"why", "authorize"},
    S.FAILED: {"why", "authorize"},
    S.CONSENTED: {"why", "verify"},
    S.VERIFIED: {"why", "verify", "cutover"},
    S.CUT_OVER: {"why", "remove"},
    S.COMPLETED: {"why", "done"},
    S.EXEMPT: {"why"},
}


class WizardError(DomainError):
    """A step cannot be taken now; ``message`` is for the customer."""

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def resume_step(case: MigrationCase) -> str:
    return _RESUME.get(case.state, "why")


def step_allowed(case: MigrationCase, step: str) -> bool:
    return step in _ALLOWED.get(case.state, {"why"})


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# ---------------------------------------------------------------------- 2. authorize


def authorize_start(*, request: HttpRequest, case: MigrationCase, user: User) -> str:
    """The URL of Atlassian's consent page for this case. A case not invited yet (the
    customer came on their own) or failed before becomes ``invited``: the customer started."""
    if case.state in (S.PENDING, S.INVITE_EXPIRED, S.FAILED):
        migration_case_transition(case, to=S.INVITED, acting_user=user, request=request)
    elif case.state != S.INVITED:
        raise WizardError(f"This migration is {case.get_state_display().lower()}.")
    url = connect.start(request=request, tenant=case.site.tenant, user=user)
    raw_state = parse_qs(urlsplit(url).query)["state"][0]
    bindings = dict(request.session.get(SESSION_KEY, {}))
    bindings[_hash(raw_state)] = {"purpose": PURPOSE, "case": case.pk}
    # Only the last few attempts matter (each state lives ten minutes).
    request.session[SESSION_KEY] = dict(list(bindings.items())[-5:])
    return url


def callback_case_id(request: HttpRequest) -> int | None:
    """The case a callback belongs to, when its ``state`` was minted by this session's wizard
    (purpose "migration"); None sends the callback down the ordinary connect flow."""
    raw_state = request.GET.get("state")
    if not raw_state:
        return None
    binding = request.session.get(SESSION_KEY, {}).get(_hash(raw_state))
    if not binding or binding.get("purpose") != PURPOSE:
        return None
    return int(binding["case"])


def _forget_binding(request: HttpRequest) -> None:
    bindings = dict(request.session.get(SESSION_KEY, {}))
    bindings.pop(_hash(request.GET.get("state", "")), None)
    request.session[SESSION_KEY] = bindings


# ---------------------------------------------------------------------- 3. verify


@dataclass(frozen=True)
class Problem:
    code: str
    message: str


def required_scopes() -> set[str]:
    return set(settings.ATLASSIAN_SCOPES.split())


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _matching_resource(site: JiraSite, result: Exchange) -> dict | None:
    for resource in result.resources:
        if resource["id"] == site.cloud_id:
            return resource
    if site.cloud_id.startswith(UNRESOLVED_PREFIX):
        for resource in result.resources:
            if _host(resource["url"]) == _host(site.url):
                return resource
    return None


def verify(*, case: MigrationCase, result: Exchange) -> tuple[dict | None, Problem | None]:
    """Check the consent against the legacy site; returns (resource, None) or (None, why)."""
    site = case.site
    resource = _matching_resource(site, result)
    if resource is None:
        chosen = ", ".join(r["url"] for r in result.resources) or "no Jira site"
        return None, Problem(
            "wrong_site",
            f"You authorized {chosen}, but this migration is for {site.url}. Nothing was "
            f"changed. Try again and, on Atlassian's page, choose {site.url} under "
            "\u201cUse app on\u201d.",
        )
    missing = sorted(required_scopes() - set(result.scopes))
    jira_missing = sorted(
        s for s in required_scopes() if "jira" in s and s not in set(resource["scopes"])
    )
    if missing or jira_missing:
        names = ", ".join(sorted(set(missing) | set(jira_missing)))
        return None, Problem(
            "missing_scopes",
            f"The authorization lacks permissions backups need ({names}). Nothing was changed. "
            "Try again and accept every permission Atlassian lists; if your organisation "
            "restricts app permissions, ask your Atlassian organisation admin to allow them.",
        )
    token = result.access_token
    try:
        with JiraClient.for_grant(resource["id"], token_provider=lambda: token) as client:
            try:
                is_admin = client.has_permission("ADMINISTER")
            except (ApiForbidden, ApiUnauthorized):
                is_admin = False
            if not is_admin:
                who = result.account_email or result.account_name or "The Atlassian account"
                return None, Problem(
                    "not_site_admin",
                    f"{who} is not an administrator of {site.url}. Only a Jira site "
                    "administrator can authorize backups. Nothing was changed. Ask a site "
                    "administrator to do this step (invite them as a teammate), or get "
                    "administrator rights and try again.",
                )
            client.myself()
            next(iter(client.projects(expand="")), None)
    except (ApiServerError, ApiTimeoutError, ApiHostError):
        raise connect._unavailable(case.site.tenant) from None
    except AtlassianError as exc:
        logger.warning("test read of %s through the new grant failed: %s", resource["id"], exc)
        return None, Problem(
            "test_read_failed",
            f"We could not read {site.url} with the new authorization ({exc.status or 'error'})."
            " Nothing was changed. Please try again; contact support if it keeps failing.",
        )
    return resource, None


def _resolve_cloud_id(*, site: JiraSite, resource: dict, user: User, request) -> JiraSite:
    """A site imported by URL only learns its real cloud id from the consent."""
    if site.cloud_id == resource["id"]:
        return site
    if JiraSite.objects.filter(cloud_id=resource["id"]).exclude(pk=site.pk).exists():
        raise WizardError(
            f"{resource['url']} is already connected to another account. Contact support.",
            code="site_other_tenant",
        )
    previous = site.cloud_id
    # The UPDATE holds the site's row lock until commit, as the tenants services do.
    JiraSite.objects.filter(pk=site.pk).update(cloud_id=resource["id"])
    site.cloud_id = resource["id"]
    # A legacy site's backup pool is named after its cloud id (``api-token:<cloud id>``).
    schedules_follow([site.pk])
    record_event(
        actor=user,
        action="site.cloud_id_resolved",
        target=site,
        tenant=site.tenant,
        summary={"from": previous, "to": resource["id"], "url": resource["url"]},
        request=request,
    )
    return site


def complete_authorization(
    *, request: HttpRequest, case_id: int, user: User
) -> tuple[MigrationCase, str]:
    """Handle the callback of a migration consent. Returns (case, outcome) with outcome
    ``denied`` (the user declined; nothing changed), ``failed`` (verification refused; the
    case holds the reason) or ``verified``. ``ConnectError`` for state and transport errors."""
    state = connect.consume_state(request=request, raw_state=request.GET.get("state"))
    _forget_binding(request)
    connect.check_membership(state=state, user=user)
    case = (
        MigrationCase.objects.select_related("site__tenant", "legacy_credential")
        .filter(pk=case_id, site__tenant=state.tenant)
        .first()
    )
    if case is None:
        raise ConnectError("This migration does not exist.", code="case_unknown", retry=False)
    error = request.GET.get("error")
    if error == "access_denied":
        record_event(
            actor=user,
            action="migration_case.consent_declined",
            target=case,
            tenant=case.site.tenant,
            summary={"cloud_id": case.site.cloud_id},
            request=request,
        )
        return case, "denied"
    if error:
        raise ConnectError(
            f"Atlassian could not complete the authorization ({error[:60]}). Nothing was "
            "changed. Please try again.",
            code="atlassian_error",
            tenant=state.tenant,
        )
    code = request.GET.get("code")
    if not code:
        raise ConnectError(
            "Atlassian's answer carried no authorization code. Nothing was changed.",
            code="code_missing",
            tenant=state.tenant,
        )
    if case.state != S.INVITED:
        raise ConnectError(
            f"This migration is already {case.get_state_display().lower()}.",
            code="case_moved_on",
            retry=False,
            tenant=state.tenant,
        )
    result = connect.exchange(code=code, tenant=state.tenant)
    resource, problem = verify(case=case, result=result)
    if problem is not None:
        migration_case_transition(
            case, to=S.FAILED, reason=problem.message, acting_user=user, request=request
        )
        record_event(
            actor=user,
            action="migration_case.verification_refused",
            target=case,
            tenant=case.site.tenant,
            summary={"problem": problem.code, "account_id": result.account_id},
            request=request,
        )
        return case, "failed"
    with transaction.atomic():
        site = _resolve_cloud_id(site=case.site, resource=resource, user=user, request=request)
        grant_upsert(
            account_id=result.account_id,
            account_name=result.account_name,
            account_email=result.account_email,
            scopes=result.scopes,
            access_token=result.access_token,
            refresh_token=result.refresh_token,
            access_token_expires_at=result.expires_at,
            sites=[(site, resource["scopes"])],
            acting_user=user,
            request=request,
        )
        migration_case_transition(case, to=S.CONSENTED, acting_user=user, request=request)
        migration_case_transition(case, to=S.VERIFIED, acting_user=user, request=request)
    return case, "verified"


# ---------------------------------------------------------------------- 4. cut over


def cut_over(*, request: HttpRequest, case: MigrationCase, user: User) -> MigrationCase:
    if case.state != S.VERIFIED:
        raise WizardError("Verify the authorization first.", code="not_verified")
    grant = grant_for_site(site=case.site)
    if grant is None:
        raise WizardError(
            "The authorization is no longer valid. Please authorize again.", code="no_grant"
        )
    site_use_grant(site=case.site, grant=grant, acting_user=user, request=request)
    case.refresh_from_db()
    return case


# ---------------------------------------------------------------------- 5. remove


def remove_legacy(
    *, request: HttpRequest, case: MigrationCase, user: User, confirmed: bool
) -> MigrationCase:
    """Complete the case: the legacy secret is crypto-shredded and the confirmation e-mail
    goes out on commit. The customer confirms they revoked the token (or deleted their app)."""
    if case.state != S.CUT_OVER:
        raise WizardError("Switch the site to the new authorization first.", code="not_cut_over")
    if not confirmed:
        raise WizardError(
            "Confirm that you revoked the old credential in your Atlassian account.",
            code="not_confirmed",
        )
    with transaction.atomic():
        migration_case_transition(case, to=S.COMPLETED, acting_user=user, request=request)
        migration_confirmation_send(case=case, acting_user=user, request=request)
    case.refresh_from_db()
    return case
