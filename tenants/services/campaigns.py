"""The consent campaigns: invitations, reminders and the confirmation that move legacy
customers onto the vendor app (migration cases), or bring sites whose grant lacks Jira
Software's scopes through consent again (re-consent cases: the same services, e-mails of
their own); and the cutoff pause of the legacy sites that did not move.

* ``migration_invite_send(case=..., acting_user=...)`` mails every contact of the tenant a
  signed, single-purpose, expiring link to the tenant's migration wizard and moves the case to
  ``invited``. At most one invitation per case per day (notice key ``invitation:YYYY-MM-DD``).
  It is ``migration_invites_send_bulk`` for one case: the campaign command and the admin action
  invite 200 cases per call, in a constant number of queries (one implementation).
* ``migration_reminders_due(now)`` lists ``(case, key)`` for the cases whose next reminder of
  the cadence (``settings.MIGRATION_REMINDER_DAYS`` before the due date, then every
  ``MIGRATION_PAST_DUE_REMINDER_DAYS`` while past due) has come; ``migration_reminder_send``
  sends one. The unique (case, key) of ``MigrationNotice`` makes a second run send nothing.
* ``migration_confirmation_send`` tells the contacts the migration is complete.
* ``legacy_sites_pause_after_cutoff`` marks every site still on a legacy credential
  ``needs_reauth`` with the reason "re-authorization required" once ``LEGACY_CUTOFF`` passed.

Messages go out in ``transaction.on_commit`` (through ``migration_notice_record``, or, for
invitations, the batch's own on-commit hook: one mail connection per batch); links carry
no secret but a signature (``django.core.signing``, salt per purpose, max age
``settings.MIGRATION_INVITE_MAX_AGE_DAYS``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Max, Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from tenants.audit import build_event
from tenants.exceptions import DomainError, InviteLinkExpired, InviteLinkInvalid
from tenants.models import (
    AuditEvent,
    JiraSite,
    Membership,
    MigrationCase,
    MigrationNotice,
    User,
)
from tenants.services.migration import migration_case_transition, migration_notice_record
from tenants.services.sites import site_set_status

logger = logging.getLogger(__name__)

S = MigrationCase.State
INVITE_SALT = "tenants.migration.invite"
# Cases the invitation service accepts (an invited case may be invited again, by hand).
INVITABLE = (S.PENDING, S.INVITED, S.INVITE_EXPIRED, S.FAILED)
# Cases a campaign invites: the invitable ones not already invited (those get reminders).
TO_INVITE = (S.PENDING, S.INVITE_EXPIRED, S.FAILED)
# Cases still waiting for the customer to finish.
REMINDABLE = (S.INVITED, S.INVITE_EXPIRED, S.CONSENTED, S.VERIFIED, S.CUT_OVER, S.FAILED)
REAUTH_REQUIRED = "re-authorization required"


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    days_left: int  # whole days until due (0 on the day), negative when past due
    past_due: bool

    @property
    def text(self) -> str:
        if not self.past_due:
            if self.days_left == 0:
                return f"due today ({self.due_at:%d %B %Y})"
            days = "day" if self.days_left == 1 else "days"
            return f"{self.days_left} {days} left (due {self.due_at:%d %B %Y})"
        late = -self.days_left
        if late < 1:
            return f"past due since {self.due_at:%d %B %Y}"
        days = "day" if late == 1 else "days"
        return f"{late} {days} past due (it was due {self.due_at:%d %B %Y})"


def case_deadline(case: MigrationCase, *, now: datetime | None = None) -> Deadline:
    """The case's deadline: its ``due_at``, else ``LEGACY_CUTOFF``."""
    now = now or timezone.now()
    due = case.due_at or settings.LEGACY_CUTOFF
    if now < due:
        return Deadline(due, (due - now).days, False)
    return Deadline(due, -((now - due).days), True)


def _merge_recipients(contacts: Iterable[str] | None, admins: Iterable[str]) -> list[str]:
    emails = [e.lower() for e in contacts or []]
    for email in sorted(e.lower() for e in admins if e):
        if email not in emails:
            emails.append(email)
    return emails


def _managers_by_tenant(tenant_ids: Iterable[int]) -> dict[int, list[str]]:
    """The active owners' and admins' e-mails of many tenants, in one query."""
    managers: dict[int, list[str]] = defaultdict(list)
    rows = Membership.objects.filter(
        tenant_id__in=set(tenant_ids), role__in=Membership.MANAGING_ROLES, user__is_active=True
    ).values_list("tenant_id", "user__email")
    for tenant_id, email in rows:
        managers[tenant_id].append(email)
    return managers


def migration_recipients(case: MigrationCase) -> list[str]:
    """The tenant's contact e-mails, then its owners and admins (sorted, unique)."""
    tenant = case.site.tenant
    return _merge_recipients(tenant.contact_emails, _managers_by_tenant([tenant.pk])[tenant.pk])


def invite_token(*, case: MigrationCase, email: str) -> str:
    """A signed token naming the case and the invited address (no secret in it)."""
    return signing.dumps({"case": case.pk, "email": email.lower()}, salt=INVITE_SALT)


def read_invite_token(token: str, *, max_age: timedelta | None = None) -> tuple[int, str]:
    """``(case id, invited e-mail)`` of a genuine, unexpired invitation link."""
    max_age = max_age or timedelta(days=settings.MIGRATION_INVITE_MAX_AGE_DAYS)
    try:
        data = signing.loads(token, salt=INVITE_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise InviteLinkExpired("This invitation link has expired.") from None
    except signing.BadSignature:
        raise InviteLinkInvalid("This invitation link is not valid.") from None
    return int(data["case"]), str(data["email"])


def invite_url(*, case: MigrationCase, email: str) -> str:
    return settings.SITE_URL + reverse("wizard:invite", args=[invite_token(case=case, email=email)])


def reminder_key_for(case: MigrationCase, *, now: datetime | None = None) -> str | None:
    """The cadence point the case has reached: ``reminder:-7d`` (7 days before due), or
    ``reminder:past-due:w2`` (the third weekly one while past due); None before the first."""
    now = now or timezone.now()
    due = case.due_at or settings.LEGACY_CUTOFF
    if now >= due:
        every = timedelta(days=settings.MIGRATION_PAST_DUE_REMINDER_DAYS)
        return f"reminder:past-due:w{(now - due) // every}"
    reached = [d for d in settings.MIGRATION_REMINDER_DAYS if due - timedelta(days=d) <= now]
    if not reached:
        return None
    return f"reminder:-{min(reached)}d"


def migration_reminders_due(now: datetime | None = None) -> list[tuple[MigrationCase, str]]:
    """``[(case, key)]`` for every case waiting for the customer whose current reminder has not
    been sent yet (two queries, whatever the number of cases)."""
    now = now or timezone.now()
    cases = list(
        MigrationCase.objects.filter(state__in=REMINDABLE)
        .select_related("site__tenant")
        .order_by("due_at", "pk")
    )
    wanted = {case.pk: reminder_key_for(case, now=now) for case in cases}
    sent = set(
        MigrationNotice.objects.filter(
            case_id__in=[pk for pk, key in wanted.items() if key],
            key__in={key for key in wanted.values() if key},
        ).values_list("case_id", "key")
    )
    return [
        (case, wanted[case.pk])
        for case in cases
        if wanted[case.pk] and (case.pk, wanted[case.pk]) not in sent
    ]


# ------------------------------------------------------------------------------ sending


_SUBJECTS = {
    MigrationNotice.Kind.INVITATION: "Action needed: move your Jira backups to our new app",
    MigrationNotice.Kind.REMINDER: "Reminder: move your Jira backups to our new app",
    MigrationNotice.Kind.CONFIRMATION: "Done: your Jira backups now use our new app",
}
# A re-consent (Jira Software's scopes for a site already on the vendor grant) says its own.
_RECONSENT_SUBJECTS = {
    MigrationNotice.Kind.INVITATION: "Action needed: allow backups of your Jira boards and sprints",
    MigrationNotice.Kind.REMINDER: "Reminder: allow backups of your Jira boards and sprints",
    MigrationNotice.Kind.CONFIRMATION: "Done: your Jira boards and sprints are now backed up",
}
# Rendered once per case; the per-recipient parts are substituted into the rendered text.
_LINK_SLOT = "@@migration-link@@"
_RECIPIENT_SLOT = "@@migration-recipient@@"


def _messages(case: MigrationCase, kind: str, recipients: list[str]) -> list:
    """One message per recipient (each with a link signed for that address). The templates
    are rendered once per case with placeholders; the link and the address are substituted
    (HTML-escaped in the HTML part, as autoescaping would)."""
    context = {
        "case": case,
        "tenant": case.site.tenant,
        "site": case.site,
        "deadline": case_deadline(case),
        "kind": kind,
        "link": _LINK_SLOT,
        "link_days": settings.MIGRATION_INVITE_MAX_AGE_DAYS,
        "recipient": _RECIPIENT_SLOT,
    }
    name = "confirmation" if kind == MigrationNotice.Kind.CONFIRMATION else "invitation"
    prefix = "reconsent" if case.is_reconsent else "migration"
    subject = (_RECONSENT_SUBJECTS if case.is_reconsent else _SUBJECTS)[kind]
    text = render_to_string(f"email/{prefix}_{name}.txt", context)
    html = render_to_string(f"email/{prefix}_{name}.html", context)
    messages = []
    for email in recipients:
        link = invite_url(case=case, email=email)
        body = text.replace(_LINK_SLOT, link).replace(_RECIPIENT_SLOT, email)
        page = html.replace(_LINK_SLOT, escape(link)).replace(_RECIPIENT_SLOT, escape(email))
        message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
        message.attach_alternative(page, "text/html")
        messages.append(message)
    return messages


def _send_many(kind: str, recipients_by_case: dict[int, list[str]]) -> None:
    """Send the messages of many cases (loaded in one query) over one mail connection."""
    cases = MigrationCase.objects.select_related("site__tenant", "legacy_credential").in_bulk(
        list(recipients_by_case)
    )
    messages = []
    for case_id, recipients in recipients_by_case.items():
        if case_id in cases:
            messages.extend(_messages(cases[case_id], kind, recipients))
    get_connection().send_messages(messages)
    logger.info("migration %s sent for %d case(s), %d message(s)", kind, len(cases), len(messages))


def _send(case_id: int, kind: str, recipients: list[str]) -> None:
    """One message per recipient (each with a link signed for that address)."""
    _send_many(kind, {case_id: recipients})


def _recipients_or_fail(case: MigrationCase) -> list[str]:
    recipients = migration_recipients(case)
    if not recipients:
        raise DomainError(
            f"{case.site.tenant.slug} has no contact e-mail and no owner or admin to invite"
        )
    return recipients


@dataclass
class CampaignResult:
    """What a batch of invitations did, by case id: ``sent`` the notice recorded, ``already``
    the cases invited earlier today (nothing sent), ``refused`` why a case was not invited."""

    sent: dict[int, MigrationNotice] = field(default_factory=dict)
    already: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


@transaction.atomic
def migration_invites_send_bulk(
    *,
    cases: Iterable[MigrationCase],
    acting_user: User | None,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> CampaignResult:
    """Invite the contacts of many cases at once (the command, the admin action and
    ``migration_invite_send`` all come here), in a constant number of queries per batch:

    * the cases are locked (``SELECT ... FOR UPDATE``, in id order) and re-read with their
      site and tenant in one query; recipients of every tenant in one more;
    * today's notice (``invitation:YYYY-MM-DD``) is claimed per case: cases that already have
      it are left alone (nothing sent), the others get theirs in one bulk INSERT; the unique
      (case, key) constraint stays the guarantee (a duplicate would fail the transaction);
    * one audit event per notice and per state change, bulk-inserted in the same transaction;
    * cases not yet ``invited`` move there with one conditional UPDATE;
    * the e-mails leave after commit, one connection for the batch.

    A case in the wrong state, or with nobody to write to, is refused (``refused``) and left
    unchanged; the others go on."""
    now = now or timezone.now()
    key = f"invitation:{now:%Y-%m-%d}"
    given = {case.pk: case for case in cases}
    result = CampaignResult()
    if not given:
        return result
    locked = list(
        MigrationCase.objects.select_for_update(of=("self",))
        .select_related("site__tenant", "legacy_credential")
        .filter(pk__in=list(given))
        .order_by("pk")
    )
    managers = _managers_by_tenant(case.site.tenant_id for case in locked)
    recipients: dict[int, list[str]] = {}
    for case in locked:
        if case.state not in INVITABLE:
            result.refused[case.pk] = (
                f"the case is {case.state}; only open cases not yet started are invited"
            )
            continue
        emails = _merge_recipients(case.site.tenant.contact_emails, managers[case.site.tenant_id])
        if not emails:
            result.refused[case.pk] = (
                f"{case.site.tenant.slug} has no contact e-mail and no owner or admin to invite"
            )
            continue
        recipients[case.pk] = emails
    for pk in given.keys() - {case.pk for case in locked}:
        result.refused[pk] = "the case no longer exists"
    sent_before = set(
        MigrationNotice.objects.filter(case_id__in=list(recipients), key=key).values_list(
            "case_id", flat=True
        )
    )
    result.already = sorted(sent_before)
    to_send = [case for case in locked if case.pk in recipients and case.pk not in sent_before]
    if not to_send:
        return result

    stamp = timezone.now()
    kind = MigrationNotice.Kind.INVITATION
    notices = MigrationNotice.objects.bulk_create(
        [
            MigrationNotice(
                case=case, kind=kind, key=key, recipients=recipients[case.pk], sent_at=stamp
            )
            for case in to_send
        ]
    )
    actor = acting_user if getattr(acting_user, "is_authenticated", False) else None
    events = []
    moving = []
    for case, notice in zip(to_send, notices, strict=True):
        result.sent[case.pk] = notice
        events.append(
            build_event(
                actor=actor,
                action="migration_notice.sent",
                target=case,
                tenant=case.site.tenant,
                summary={"kind": kind, "key": key, "recipients": list(recipients[case.pk])},
                request=request,
            )
        )
        if case.state != S.INVITED:
            previous = case.state
            case.state, case.state_changed_at, case.invited_at = S.INVITED, stamp, stamp
            case.failure_reason = ""
            moving.append(case)
            events.append(
                build_event(
                    actor=actor,
                    action=f"migration_case.{S.INVITED}",
                    target=case,
                    tenant=case.site.tenant,
                    summary={"cloud_id": case.site.cloud_id, "from": previous, "to": S.INVITED},
                    request=request,
                )
            )
    if moving:
        # Every case here is locked and was in a state that may become invited
        # (pending, invite_expired, failed: see TRANSITIONS).
        moved = MigrationCase.objects.filter(
            pk__in=[case.pk for case in moving], state__in=INVITABLE
        ).update(
            state=S.INVITED,
            state_changed_at=stamp,
            invited_at=stamp,
            failure_reason="",
            updated_at=stamp,
        )
        if moved != len(moving):  # pragma: no cover - the rows are locked
            raise DomainError("cases changed state while being invited; nothing was sent")
        for case in moving:
            original = given.get(case.pk)
            if original is not None and original is not case:
                original.state, original.state_changed_at = case.state, stamp
                original.invited_at, original.failure_reason = stamp, ""
    AuditEvent.objects.bulk_create(events)
    batch = {case.pk: recipients[case.pk] for case in to_send}
    transaction.on_commit(lambda: _send_many(kind, batch))
    logger.info(
        "migration invitations: %d case(s) invited, %d moved to invited", len(batch), len(moving)
    )
    return result


def migration_invite_send(
    *,
    case: MigrationCase,
    acting_user: User | None,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> MigrationNotice | None:
    """Invite the tenant's contacts to migrate the case's site; the case becomes ``invited``.
    Returns None (and sends nothing) if an invitation already went out today; raises
    ``DomainError`` when the case may not be invited (``migration_invites_send_bulk``)."""
    result = migration_invites_send_bulk(
        cases=[case], acting_user=acting_user, request=request, now=now
    )
    if case.pk in result.refused:
        raise DomainError(result.refused[case.pk])
    return result.sent.get(case.pk)


@transaction.atomic
def migration_reminder_send(
    *,
    case: MigrationCase,
    acting_user: User | None,
    key: str | None = None,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> MigrationNotice | None:
    """Send the reminder ``key`` (default: the cadence point the case has reached, or, when
    staff remind before the first one, ``reminder:manual:YYYY-MM-DD``). None if already sent."""
    now = now or timezone.now()
    case = MigrationCase.objects.select_related("site__tenant").get(pk=case.pk)
    if case.state not in REMINDABLE:
        raise DomainError(f"the case is {case.state}; there is nothing to remind the customer of")
    key = key or reminder_key_for(case, now=now) or f"reminder:manual:{now:%Y-%m-%d}"
    recipients = _recipients_or_fail(case)
    notice = migration_notice_record(
        case=case,
        kind=MigrationNotice.Kind.REMINDER,
        key=key,
        recipients=recipients,
        send=lambda: _send(case.pk, MigrationNotice.Kind.REMINDER, recipients),
        acting_user=acting_user,
        request=request,
    )
    if notice is not None and case.state == S.INVITE_EXPIRED:
        # The reminder carries fresh links: the invitation is open again.
        migration_case_transition(case, to=S.INVITED, acting_user=acting_user, request=request)
    return notice


def migration_invites_expire(
    *, acting_user: User | None = None, now: datetime | None = None
) -> list[int]:
    """``invited`` cases whose every link has expired (nothing sent for
    ``MIGRATION_INVITE_MAX_AGE_DAYS``) become ``invite_expired``; the next invitation or
    reminder opens them again. Returns the case ids."""
    now = now or timezone.now()
    horizon = now - timedelta(days=settings.MIGRATION_INVITE_MAX_AGE_DAYS)
    stale = (
        MigrationCase.objects.filter(state=S.INVITED)
        .annotate(last_sent=Max("notices__sent_at"))
        .filter(Q(last_sent__lt=horizon) | Q(last_sent__isnull=True, invited_at__lt=horizon))
    )
    expired = []
    for case in stale.select_related("site__tenant"):
        migration_case_transition(case, to=S.INVITE_EXPIRED, acting_user=acting_user, request=None)
        expired.append(case.pk)
    return expired


@transaction.atomic
def migration_confirmation_send(
    *, case: MigrationCase, acting_user: User | None, request: HttpRequest | None = None
) -> MigrationNotice | None:
    """Tell the contacts the migration is complete (once per case)."""
    case = MigrationCase.objects.select_related("site__tenant").get(pk=case.pk)
    if case.state != S.COMPLETED:
        raise DomainError("only a completed migration is confirmed")
    recipients = _recipients_or_fail(case)
    return migration_notice_record(
        case=case,
        kind=MigrationNotice.Kind.CONFIRMATION,
        key="confirmation",
        recipients=recipients,
        send=lambda: _send(case.pk, MigrationNotice.Kind.CONFIRMATION, recipients),
        acting_user=acting_user,
        request=request,
    )


def reauth_required_reason() -> str:
    return (
        f"{REAUTH_REQUIRED}: legacy credentials may no longer be used since "
        f"{settings.LEGACY_CUTOFF:%d %B %Y}; connect the site through the vendor app"
    )


def legacy_sites_pause_after_cutoff(
    *, acting_user: User | None = None, now: datetime | None = None
) -> list[int]:
    """From ``LEGACY_CUTOFF`` on, mark every active site still on a legacy credential
    ``needs_reauth`` ("re-authorization required ..."), so backups pause with that reason and
    the customer and staff see it. Returns the ids of the sites changed (idempotent)."""
    now = now or timezone.now()
    if now < settings.LEGACY_CUTOFF:
        return []
    reason = reauth_required_reason()
    changed = []
    sites = JiraSite.objects.filter(
        legacy_credential__isnull=False, grant__isnull=True, status=JiraSite.Status.ACTIVE
    )
    for site in sites.select_related("tenant"):
        if site_set_status(
            site=site, status=JiraSite.Status.NEEDS_REAUTH, reason=reason, acting_user=acting_user
        ):
            changed.append(site.pk)
    if changed:
        logger.warning("%d legacy sites paused: LEGACY_CUTOFF has passed", len(changed))
    return changed


__all__ = [
    "CampaignResult",
    "Deadline",
    "InviteLinkExpired",
    "InviteLinkInvalid",
    "case_deadline",
    "invite_token",
    "invite_url",
    "legacy_sites_pause_after_cutoff",
    "migration_confirmation_send",
    "migration_invite_send",
    "migration_invites_expire",
    "migration_invites_send_bulk",
    "migration_recipients",
    "migration_reminder_send",
    "migration_reminders_due",
    "read_invite_token",
    "reminder_key_for",
]
