"""Migration cases: moving a legacy site to the vendor app, as a state machine.

    pending ─► invited ─► consented ─► verified ─► cut_over ─► completed (legacy purged)
       │          │  ▲         │           │           │
       │          ▼  │         ▼           ▼           ▼
       │     invite_expired   failed (reason) ◄─ from any open state; failed ─► pending | invited
       └──► exempt (justification + staff approver) from any open state, via mark_exempt

A re-consent case (purpose ``reconsent``: a site on a vendor grant without Jira Software's
scopes) is the same journey without the legacy part: verified ─► completed, no cut over;
verified and completed need the site's grant to carry those scopes.

Every transition stamps ``<state>_at`` and writes an audit event in the same transaction;
``opened_at`` (the invitation link was opened) is a stamp of the funnel, not a state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from tenants.audit import record_event
from tenants.exceptions import DomainError, IllegalTransition
from tenants.models import JiraSite, MigrationCase, MigrationNotice, User
from tenants.scopes import software_scopes_missing
from tenants.selectors import grant_for_site
from tenants.services.legacy import legacy_credential_purge

logger = logging.getLogger(__name__)

S = MigrationCase.State
P = MigrationCase.Purpose

TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.INVITED, S.FAILED, S.EXEMPT}),
    S.INVITED: frozenset({S.CONSENTED, S.INVITE_EXPIRED, S.FAILED, S.EXEMPT}),
    S.INVITE_EXPIRED: frozenset({S.INVITED, S.FAILED, S.EXEMPT}),
    S.CONSENTED: frozenset({S.VERIFIED, S.FAILED, S.EXEMPT}),
    S.VERIFIED: frozenset({S.CUT_OVER, S.FAILED, S.EXEMPT}),
    S.CUT_OVER: frozenset({S.COMPLETED, S.FAILED}),
    S.FAILED: frozenset({S.PENDING, S.INVITED, S.EXEMPT}),
    S.COMPLETED: frozenset(),
    # Revoking an exemption sends the site back to the start.
    S.EXEMPT: frozenset({S.PENDING}),
}
# A re-consent has no legacy part: verified, it is complete (the site already uses a grant).
RECONSENT_TRANSITIONS: dict[str, frozenset[str]] = {
    **TRANSITIONS,
    S.VERIFIED: frozenset({S.COMPLETED, S.FAILED, S.EXEMPT}),
    S.CUT_OVER: frozenset(),
}
OPEN_STATES = frozenset(TRANSITIONS) - {S.COMPLETED, S.EXEMPT}


def transitions_for(case: MigrationCase) -> dict[str, frozenset[str]]:
    return RECONSENT_TRANSITIONS if case.is_reconsent else TRANSITIONS


_STAMP = {
    S.INVITED: "invited_at",
    S.CONSENTED: "consented_at",
    S.VERIFIED: "verified_at",
    S.CUT_OVER: "cut_over_at",
    S.COMPLETED: "completed_at",
    S.FAILED: "failed_at",
    S.INVITE_EXPIRED: "invite_expired_at",
    S.EXEMPT: "exempt_at",
}


def _guard(case: MigrationCase, to: str) -> str:
    """What must hold before entering ``to``; returns why not, or "" when it holds."""
    site = case.site
    if case.is_reconsent:
        return _reconsent_guard(site, to)
    if to == S.VERIFIED and grant_for_site(site=site) is None:
        return "no active vendor grant reaches the site yet"
    if to in (S.CUT_OVER, S.COMPLETED) and site.grant_id is None:
        return "the site does not use the vendor grant yet (call site_use_grant)"
    return ""


def _reconsent_guard(site: JiraSite, to: str) -> str:
    if to not in (S.VERIFIED, S.COMPLETED):
        return ""
    grant = site.grant
    if grant is None or grant.status != grant.Status.ACTIVE:
        return "the site does not use an active vendor grant"
    missing = software_scopes_missing(grant.scopes or [])
    if missing:
        return f"the site's grant still lacks Jira Software's scopes ({', '.join(missing)})"
    return ""


def transition_locked(
    *,
    case: MigrationCase,
    to: str,
    reason: str,
    acting_user: User | None,
    request: HttpRequest | None,
    exemption: tuple[str, User] | None = None,
) -> MigrationCase:
    """The transition itself; ``case`` must be locked by the caller's transaction."""
    allowed = transitions_for(case)
    if to not in allowed:
        raise IllegalTransition(from_state=case.state, to_state=to, why="unknown state")
    if to not in allowed[case.state]:
        raise IllegalTransition(from_state=case.state, to_state=to)
    if to == S.FAILED and not reason.strip():
        raise IllegalTransition(from_state=case.state, to_state=to, why="a reason is required")
    why = _guard(case, to)
    if why:
        raise IllegalTransition(from_state=case.state, to_state=to, why=why)

    now = timezone.now()
    previous = case.state
    case.state, case.state_changed_at = to, now
    if to in _STAMP:
        setattr(case, _STAMP[to], now)
    case.failure_reason = reason.strip() if to == S.FAILED else ""
    if exemption is not None:
        case.exemption_justification, case.exempted_by = exemption
    elif previous == S.EXEMPT:
        case.exemption_justification, case.exempted_by = "", None
    case.save()

    summary = {"cloud_id": case.site.cloud_id, "from": previous, "to": to}
    if case.is_reconsent:
        summary["purpose"] = case.purpose
    if reason.strip():
        summary["reason"] = reason.strip()
    if exemption is not None:
        summary["justification"] = exemption[0]
        summary["approved_by"] = exemption[1].pk
    record_event(
        actor=acting_user,
        action=f"migration_case.{to}",
        target=case,
        tenant=case.site.tenant,
        summary=summary,
        request=request,
    )
    if to == S.COMPLETED and case.legacy_credential_id:
        credential = case.legacy_credential
        # A customer app can serve several sites: shred it when the last one has moved.
        if not credential.sites.exists():
            legacy_credential_purge(
                credential=credential,
                reason="migration completed",
                acting_user=acting_user,
                request=request,
            )
    logger.info("migration case %s: %s -> %s", case.pk, previous, to)
    return case


def _lock(case: MigrationCase) -> MigrationCase:
    return (
        MigrationCase.objects.select_for_update(of=("self",))
        .select_related("site__tenant", "legacy_credential")
        .get(pk=case.pk)
    )


@transaction.atomic
def migration_case_open(
    *,
    site: JiraSite,
    due_at: datetime | None = None,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> MigrationCase:
    """The site's case, opened (pending) if it has none. The site must be on a legacy
    credential."""
    existing = MigrationCase.objects.filter(site=site, purpose=P.MIGRATION).first()
    if existing is not None:
        return existing
    if site.legacy_credential_id is None:
        raise DomainError(f"site {site.cloud_id} has no legacy credential to migrate")
    return _open(
        site=site,
        purpose=P.MIGRATION,
        legacy_credential_id=site.legacy_credential_id,
        due_at=due_at,
        acting_user=acting_user,
        request=request,
    )


@transaction.atomic
def reconsent_case_open(
    *,
    site: JiraSite,
    due_at: datetime | None = None,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> MigrationCase:
    """The site's re-consent case, opened (pending) if it has none: the site uses an active
    vendor grant without Jira Software's scopes (``tenants.scopes.software_scopes_missing``).
    A finished case whose site lacks the scopes again (another grant since) starts over."""
    locked = (
        JiraSite.objects.select_for_update(of=("self",))
        .select_related("grant", "tenant")
        .get(pk=site.pk)
    )
    grant = locked.grant
    if grant is None:
        raise DomainError(f"{locked.url} does not use the vendor grant (nothing to re-consent)")
    if locked.status != JiraSite.Status.ACTIVE:
        raise DomainError(f"{locked.url} is {locked.get_status_display().lower()}")
    if not software_scopes_missing(grant.scopes or []):
        raise DomainError(f"the grant of {locked.url} already carries Jira Software's scopes")
    existing = (
        MigrationCase.objects.select_for_update(of=("self",))
        .select_related("site__tenant")
        .filter(site=locked, purpose=P.RECONSENT)
        .first()
    )
    if existing is None:
        return _open(
            site=locked,
            purpose=P.RECONSENT,
            legacy_credential_id=None,
            due_at=due_at,
            acting_user=acting_user,
            request=request,
        )
    if existing.state == S.COMPLETED:
        previous = existing.state
        existing.state, existing.state_changed_at = S.PENDING, timezone.now()
        existing.due_at = due_at or existing.due_at
        for stamp in ("invited_at", "opened_at", "consented_at", "verified_at", "completed_at"):
            setattr(existing, stamp, None)
        existing.save()
        record_event(
            actor=acting_user,
            action=f"migration_case.{S.PENDING}",
            target=existing,
            tenant=locked.tenant,
            summary={
                "cloud_id": locked.cloud_id,
                "from": previous,
                "to": S.PENDING,
                "purpose": P.RECONSENT,
                "reason": "the site's grant lacks Jira Software's scopes again",
            },
            request=request,
        )
    return existing


def _open(
    *,
    site: JiraSite,
    purpose: str,
    legacy_credential_id: int | None,
    due_at: datetime | None,
    acting_user: User | None,
    request: HttpRequest | None,
) -> MigrationCase:
    try:
        with transaction.atomic():
            case = MigrationCase.objects.create(
                site=site, purpose=purpose, legacy_credential_id=legacy_credential_id, due_at=due_at
            )
    except IntegrityError:  # opened concurrently
        return MigrationCase.objects.get(site=site, purpose=purpose)
    summary = {"cloud_id": site.cloud_id, "due_at": due_at.isoformat() if due_at else None}
    if purpose == P.RECONSENT:
        summary["purpose"] = purpose
    record_event(
        actor=acting_user,
        action="migration_case.opened",
        target=case,
        tenant=site.tenant,
        summary=summary,
        request=request,
    )
    return case


@transaction.atomic
def migration_case_mark_opened(
    *, case: MigrationCase, acting_user: User | None, request: HttpRequest | None = None
) -> bool:
    """An invited person opened the link of an invitation or reminder (the funnel's
    "opened"): stamped and audited the first time only. True when this was the first time."""
    stamped = MigrationCase.objects.filter(pk=case.pk, opened_at__isnull=True).update(
        opened_at=timezone.now()
    )
    if not stamped:
        return False
    case.refresh_from_db(fields=["opened_at"])
    record_event(
        actor=acting_user,
        action="migration_case.link_opened",
        target=case,
        tenant=case.site.tenant,
        summary={"cloud_id": case.site.cloud_id, "purpose": case.purpose, "state": case.state},
        request=request,
    )
    return True


@transaction.atomic
def migration_case_transition(
    case: MigrationCase,
    *,
    to: str,
    reason: str = "",
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> MigrationCase:
    """Move the case to ``to``; an illegal move raises ``IllegalTransition`` naming from and to.
    ``failed`` needs a ``reason``; ``exempt`` goes through ``migration_case_mark_exempt``."""
    if to == S.EXEMPT:
        raise IllegalTransition(
            from_state=case.state,
            to_state=to,
            why="use migration_case_mark_exempt (it needs a justification and a staff approver)",
        )
    locked = transition_locked(
        case=_lock(case), to=to, reason=reason, acting_user=acting_user, request=request
    )
    _refresh(case, locked)
    return locked


@transaction.atomic
def migration_case_mark_exempt(
    *,
    case: MigrationCase,
    justification: str,
    approved_by: User,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> MigrationCase:
    """Exempt a site from migration (it keeps its legacy credential); needs a written
    justification and an active staff member who approved it."""
    if not justification.strip():
        raise DomainError("an exemption needs a justification")
    if approved_by is None or not (approved_by.is_staff and approved_by.is_active):
        raise DomainError("an exemption must be approved by an active staff user")
    locked = transition_locked(
        case=_lock(case),
        to=S.EXEMPT,
        reason="",
        acting_user=acting_user,
        request=request,
        exemption=(justification.strip(), approved_by),
    )
    _refresh(case, locked)
    return locked


def _refresh(case: MigrationCase, locked: MigrationCase) -> None:
    if case is not locked:
        case.refresh_from_db()


@transaction.atomic
def migration_notice_record(
    *,
    case: MigrationCase,
    kind: str,
    key: str,
    recipients: Sequence[str],
    send: Callable[[], None] | None = None,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> MigrationNotice | None:
    """Claim notice ``key`` for the case (e.g. "reminder:-7d") and schedule ``send`` after
    commit. Returns None, and sends nothing, when that notice was already recorded: the unique
    (case, key) constraint is what makes a reminder run twice harmless."""
    if kind not in MigrationNotice.Kind.values:
        raise DomainError(f"unknown notice kind {kind!r}")
    try:
        with transaction.atomic():
            notice = MigrationNotice.objects.create(
                case=case, kind=kind, key=key, recipients=list(recipients), sent_at=timezone.now()
            )
    except IntegrityError:
        return None
    record_event(
        actor=acting_user,
        action="migration_notice.sent",
        target=case,
        tenant=case.site.tenant,
        summary={"kind": kind, "key": key, "recipients": list(recipients)},
        request=request,
    )
    if send is not None:
        transaction.on_commit(send)
    return notice
