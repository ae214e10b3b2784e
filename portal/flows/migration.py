"""The migration wizard's journey, one plain function per step (``portal/wizard/views.py`` only
parses input, checks permission and calls these). The state lives in the ``MigrationCase``; the
customer can leave and resume at any step.

1. Why — plain-language explanation and the deadline (``case_deadline``).
2. Authorize — ``authorize_start`` mints the consent's one-time ``state`` with the purpose
   "migration" and the case (``oauth.start``); the one callback (``callback.handle_callback``)
   hands the answer back here.
3. Verify — in the callback, the wizard adds only its own step to the connect flow's checks:
   the consent must reach the case's site (``expected_resource``), whose placeholder cloud id
   is then resolved (``resolve_site``); after the grant is stored the case moves
   ``consented`` → ``verified`` (``mark_verified``). A refused consent stores nothing and fails
   the case with a reason that says what to do (``fail``); an Atlassian outage or rate limit
   leaves the case as it was.
4. Cut over — ``cut_over``: ``site_use_grant`` switches the site in one transaction; the next
   scheduled backup reads the site's credential when it runs, so there is no gap.
5. Remove — ``remove_legacy``: the case completes, which crypto-shreds the legacy secret
   (``legacy_credential_purge``), and the confirmation e-mail goes out on commit.
6. Done.

A re-consent case (``case.is_reconsent``: the site is on a vendor grant without Jira Software's
scopes) takes the same journey without the legacy part — why, authorize, done: the consent must
carry Jira Software's scopes too (``check_reconsent_scopes``), and once the grant is stored the
site uses it (``site_use_grant`` when another account consented) and the case goes
consented → verified → completed in the same transaction, the confirmation e-mail on commit
(``complete_reconsent``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db import transaction

from portal.exceptions import ConnectError, WizardError
from portal.flows import oauth
from portal.flows.oauth import Caller, Exchange
from portal.models import OAuthState
from tenants.exceptions import SiteAlreadyExists
from tenants.models import JiraSite, MigrationCase, OAuthGrant
from tenants.scopes import software_scopes_missing
from tenants.selectors import grant_for_site
from tenants.services.campaigns import migration_confirmation_send
from tenants.services.migration import migration_case_transition
from tenants.services.sites import UNRESOLVED_PREFIX, site_resolve_cloud_id, site_use_grant

S = MigrationCase.State

STEPS: list[tuple[str, str]] = [
    ("why", "Why"),
    ("authorize", "Authorize"),
    ("verify", "Verify"),
    ("cutover", "Cut over"),
    ("remove", "Remove the old credential"),
    ("done", "Done"),
]
STEP_KEYS = [key for key, _ in STEPS]
RECONSENT_STEPS: list[tuple[str, str]] = [
    ("why", "Why"),
    ("authorize", "Authorize"),
    ("done", "Done"),
]

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


# A re-consent passes consented and verified inside the callback; it has no cut over.
_RECONSENT_RESUME = {**_RESUME, S.CONSENTED: "authorize", S.VERIFIED: "authorize"}
_RECONSENT_ALLOWED = {
    **_ALLOWED,
    S.CONSENTED: {"why", "authorize"},
    S.VERIFIED: {"why", "authorize"},
    S.CUT_OVER: {"why"},
}


def steps_for(case: MigrationCase) -> list[tuple[str, str]]:
    return RECONSENT_STEPS if case.is_reconsent else STEPS


def resume_step(case: MigrationCase) -> str:
    resume = _RECONSENT_RESUME if case.is_reconsent else _RESUME
    return resume.get(case.state, "why")


def step_allowed(case: MigrationCase, step: str) -> bool:
    allowed = _RECONSENT_ALLOWED if case.is_reconsent else _ALLOWED
    return step in allowed.get(case.state, {"why"}) and step in dict(steps_for(case))


# ---------------------------------------------------------------------- 2. authorize


def authorize_start(*, caller: Caller, case: MigrationCase) -> str:
    """The URL of Atlassian's consent page for this case. A case not invited yet (the
    customer came on their own) or failed before becomes ``invited``: the customer started."""
    if case.state in (S.PENDING, S.INVITE_EXPIRED, S.FAILED):
        migration_case_transition(
            case, to=S.INVITED, acting_user=caller.user, request=caller.request
        )
    elif case.state != S.INVITED:
        raise WizardError(f"This migration is {case.get_state_display().lower()}.")
    return oauth.start(caller=caller, tenant=case.site.tenant, case=case)


# ---------------------------------------------------------------------- 3. verify (callback)


def case_of(state: OAuthState) -> MigrationCase | None:
    """The case a consent is for: None for the connect page's consents."""
    if state.purpose != OAuthState.Purpose.MIGRATION:
        return None
    return (
        MigrationCase.objects.select_related("site__tenant", "legacy_credential")
        .filter(pk=state.migration_case_id, site__tenant=state.tenant)
        .get()
    )


def check_awaiting_consent(case: MigrationCase) -> None:
    if case.state != S.INVITED:
        raise ConnectError(
            f"This migration is already {case.get_state_display().lower()}.",
            code="case_moved_on",
            retry=False,
            tenant=case.site.tenant,
            case=case,
        )


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


def expected_resource(case: MigrationCase, result: Exchange) -> dict:
    """The consented site that is the case's own (by cloud id, or by host for a site imported
    by URL only); a consent for another site is refused."""
    site = case.site
    for resource in result.resources:
        if resource["id"] == site.cloud_id:
            return resource
    if site.cloud_id.startswith(UNRESOLVED_PREFIX):
        for resource in result.resources:
            if _host(resource["url"]) == _host(site.url):
                return resource
    chosen = ", ".join(r["url"] for r in result.resources) or "no Jira site"
    raise ConnectError(
        f"You authorized {chosen}, but this migration is for {site.url}. Nothing was "
        f"changed. Try again and, on Atlassian's page, choose {site.url} under "
        "\u201cUse app on\u201d.",
        code="wrong_site",
        refusal=True,
        tenant=site.tenant,
        case=case,
    )


def resolve_site(*, caller: Caller, case: MigrationCase, resource: dict) -> JiraSite:
    """The case's site, with the real cloud id when it was imported by URL only."""
    try:
        return site_resolve_cloud_id(
            site=case.site,
            cloud_id=resource["id"],
            acting_user=caller.user,
            request=caller.request,
        )
    except SiteAlreadyExists:
        raise ConnectError(
            f"{resource['url']} is already connected to this customer account as another "
            "site. Nothing was changed. Contact support.",
            code="site_twice",
            retry=False,
            refusal=True,
            tenant=case.site.tenant,
            case=case,
        ) from None


def check_reconsent_scopes(case: MigrationCase, result: Exchange) -> None:
    """A re-consent exists for Jira Software's scopes: a consent without them changes nothing
    and fails the case, naming them."""
    missing = software_scopes_missing(result.scopes)
    if case.is_reconsent and missing:
        raise ConnectError(
            "Nothing was changed: the authorization still lacks Jira Software's permissions "
            f"({', '.join(missing)}). Try again and accept every permission listed, or ask "
            "your Atlassian organisation admin to allow them.",
            title="Permissions missing",
            code="software_scopes_missing",
            status=403,
            refusal=True,
            tenant=case.site.tenant,
            case=case,
        )


def complete_reconsent(
    *, caller: Caller, case: MigrationCase, site: JiraSite, grant: OAuthGrant
) -> None:
    """After the grant is stored (same transaction): the site uses the grant that carries the
    scopes, and the case is verified and completed; the confirmation goes out on commit."""
    if site.grant_id != grant.pk:
        site_use_grant(site=site, grant=grant, acting_user=caller.user, request=caller.request)
    case.site.refresh_from_db()
    mark_verified(caller=caller, case=case)
    migration_case_transition(case, to=S.COMPLETED, acting_user=caller.user, request=caller.request)
    migration_confirmation_send(case=case, acting_user=caller.user, request=caller.request)


def mark_verified(*, caller: Caller, case: MigrationCase) -> None:
    """After the grant is stored (same transaction): the consent passed every check."""
    for state in (S.CONSENTED, S.VERIFIED):
        migration_case_transition(case, to=state, acting_user=caller.user, request=caller.request)


def fail(*, caller: Caller, case: MigrationCase, error: ConnectError, account_id: str) -> None:
    """A refused consent: the case fails with the reason the customer reads on the authorize
    step, and staff see which check refused it."""
    with transaction.atomic():
        migration_case_transition(
            case, to=S.FAILED, reason=error.message, acting_user=caller.user, request=caller.request
        )
        caller.audit(
            action="migration_case.verification_refused",
            tenant=case.site.tenant,
            target=case,
            summary={"problem": error.code, "account_id": account_id},
        )


# ---------------------------------------------------------------------- 4. cut over


def cut_over(*, caller: Caller, case: MigrationCase) -> MigrationCase:
    if case.state != S.VERIFIED or case.is_reconsent:
        raise WizardError("Verify the authorization first.", code="not_verified")
    grant = grant_for_site(site=case.site)
    if grant is None:
        raise WizardError(
            "The authorization is no longer valid. Please authorize again.", code="no_grant"
        )
    site_use_grant(site=case.site, grant=grant, acting_user=caller.user, request=caller.request)
    case.refresh_from_db()
    return case


# ---------------------------------------------------------------------- 5. remove


def remove_legacy(*, caller: Caller, case: MigrationCase, confirmed: bool) -> MigrationCase:
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
        migration_case_transition(
            case, to=S.COMPLETED, acting_user=caller.user, request=caller.request
        )
        migration_confirmation_send(case=case, acting_user=caller.user, request=caller.request)
    case.refresh_from_db()
    return case
