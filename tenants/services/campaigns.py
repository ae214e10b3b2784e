"""The migration campaign: invitations, reminders and the confirmation that move legacy
customers onto the vendor app, and the cutoff pause of the sites that did not move.

* ``migration_invite_send(case=..., acting_user=...)`` mails every contact of the tenant a
  signed, single-purpose, expiring link to the tenant's migration wizard and moves the case to
  ``invited``. At most one invitation per case per day (notice key ``invitation:YYYY-MM-DD``).
* ``migration_reminders_due(now)`` lists ``(case, key)`` for the cases whose next reminder of
  the cadence (``settings.MIGRATION_REMINDER_DAYS`` before the due date, then every
  ``MIGRATION_PAST_DUE_REMINDER_DAYS`` while past due) has come; ``migration_reminder_send``
  sends one. The unique (case, key) of ``MigrationNotice`` makes a second run send nothing.
* ``migration_confirmation_send`` tells the contacts the migration is complete.
* ``legacy_sites_pause_after_cutoff`` marks every site still on a legacy credential
  ``needs_reauth`` with the reason "re-authorization required" once ``LEGACY_CUTOFF`` passed.

Messages go out in ``transaction.on_commit`` (through ``migration_notice_record``); links carry
no secret but a signature (``django.core.signing``, salt per purpose, max age
``settings.MIGRATION_INVITE_MAX_AGE_DAYS``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Max, Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tenants.exceptions import DomainError
from tenants.models import JiraSite, Membership, MigrationCase, MigrationNotice, User
from tenants.services.migration import migration_case_transition, migration_notice_record
from tenants.services.sites import site_set_status

logger = logging.getLogger(__name__)

S = MigrationCase.State
INVITE_SALT = "tenants.migration.invite"
INVITABLE = (S.PENDING, S.INVITED, S.INVITE_EXPIRED, S.FAILED)
# Cases still waiting for the customer to finish.
REMINDABLE = (S.INVITED, S.INVITE_EXPIRED, S.CONSENTED, S.VERIFIED, S.CUT_OVER, S.FAILED)
REAUTH_REQUIRED = "re-authorization required"


class InviteLinkInvalid(DomainError):
    """The link was tampered with, or was made for another purpose."""


class InviteLinkExpired(DomainError):
    """The link is genuine but older than ``MIGRATION_INVITE_MAX_AGE_DAYS``."""


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


def migration_recipients(case: MigrationCase) -> list[str]:
    """The tenant's contact e-mails, then its owners and admins (sorted, unique)."""
    tenant = case.site.tenant
    emails = [e.lower() for e in tenant.contact_emails or []]
    admins = Membership.objects.filter(
        tenant=tenant, role__in=Membership.MANAGING_ROLES, user__is_active=True
    ).values_list("user__email", flat=True)
    for email in sorted(e.lower() for e in admins if e):
        if email not in emails:
            emails.append(email)
    return emails


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


def _send(case_id: int, kind: str, recipients: list[str]) -> None:
    """One message per recipient (each with a link signed for that address)."""
    case = MigrationCase.objects.select_related("site__tenant", "legacy_credential").get(pk=case_id)
    subjects = {
        MigrationNotice.Kind.INVITATION: "Action needed: move your Jira backups to our new app",
        MigrationNotice.Kind.REMINDER: "Reminder: move your Jira backups to our new app",
        MigrationNotice.Kind.CONFIRMATION: "Done: your Jira backups now use our new app",
    }
    deadline = case_deadline(case)
    for email in recipients:
        context = {
            "case": case,
            "tenant": case.site.tenant,
            "site": case.site,
            "deadline": deadline,
            "kind": kind,
            "link": invite_url(case=case, email=email),
            "link_days": settings.MIGRATION_INVITE_MAX_AGE_DAYS,
            "recipient": email,
        }
        name = "confirmation" if kind == MigrationNotice.Kind.CONFIRMATION else "invitation"
        text = render_to_string(f"email/migration_{name}.txt", context)
        html = render_to_string(f"email/migration_{name}.html", context)
        message = EmailMultiAlternatives(subjects[kind], text, settings.DEFAULT_FROM_EMAIL, [email])
        message.attach_alternative(html, "text/html")
        message.send()
    logger.info("migration %s for case %s sent to %d recipient(s)", kind, case_id, len(recipients))


def _recipients_or_fail(case: MigrationCase) -> list[str]:
    recipients = migration_recipients(case)
    if not recipients:
        raise DomainError(
            f"{case.site.tenant.slug} has no contact e-mail and no owner or admin to invite"
        )
    return recipients


@transaction.atomic
def migration_invite_send(
    *,
    case: MigrationCase,
    acting_user: User | None,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> MigrationNotice | None:
    """Invite the tenant's contacts to migrate the case's site; the case becomes ``invited``.
    Returns None (and sends nothing) if an invitation already went out today."""
    now = now or timezone.now()
    case = MigrationCase.objects.select_related("site__tenant").get(pk=case.pk)
    if case.state not in INVITABLE:
        raise DomainError(f"the case is {case.state}; only open cases not yet started are invited")
    recipients = _recipients_or_fail(case)
    notice = migration_notice_record(
        case=case,
        kind=MigrationNotice.Kind.INVITATION,
        key=f"invitation:{now:%Y-%m-%d}",
        recipients=recipients,
        send=lambda: _send(case.pk, MigrationNotice.Kind.INVITATION, recipients),
        acting_user=acting_user,
        request=request,
    )
    if notice is not None and case.state != S.INVITED:
        migration_case_transition(case, to=S.INVITED, acting_user=acting_user, request=request)
    return notice


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
    "migration_recipients",
    "migration_reminder_send",
    "migration_reminders_due",
    "read_invite_token",
    "reminder_key_for",
]
