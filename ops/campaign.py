"""The one seam between the operations console and the migration campaign services
(``tenants.services.campaigns``, the wizard's): the admin actions and the commands reach them
only through ``invite``, ``invite_many`` and ``remind``, which turn the service's answer into "sent" or
"skipped: <reason>". A service refusal (``DomainError``: nobody to write to, a case in the wrong
state) propagates, and the caller lists it as failed."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from tenants.models import MigrationCase, User
from tenants.services.campaigns import (
    migration_invite_send,
    migration_invites_send_bulk,
    migration_reminder_send,
)

ALREADY_INVITED_TODAY = "already sent today"
ALREADY_REMINDED = "this reminder was already sent"


@dataclass(frozen=True)
class Sent:
    sent: bool
    reason: str = ""


def invite(
    *, case: MigrationCase, acting_user: User | None, request: HttpRequest | None = None
) -> Sent:
    notice = migration_invite_send(case=case, acting_user=acting_user, request=request)
    return Sent(True) if notice is not None else Sent(False, ALREADY_INVITED_TODAY)


def invite_many(
    *, cases: list[MigrationCase], acting_user: User | None, request: HttpRequest | None = None
) -> dict[int, Sent | str]:
    """``invite`` for a batch in one transaction (``migration_invites_send_bulk``): by case id,
    a ``Sent`` or the reason the service refused the case."""
    result = migration_invites_send_bulk(cases=cases, acting_user=acting_user, request=request)
    answers: dict[int, Sent | str] = dict(result.refused)
    answers.update({pk: Sent(True) for pk in result.sent})
    answers.update({pk: Sent(False, ALREADY_INVITED_TODAY) for pk in result.already})
    return answers


def remind(
    *,
    case: MigrationCase,
    acting_user: User | None,
    key: str | None = None,
    request: HttpRequest | None = None,
) -> Sent:
    """``key`` is the cadence point (``migration_reminders_due``); staff reminding by hand
    leave it out and the service picks today's."""
    notice = migration_reminder_send(case=case, acting_user=acting_user, key=key, request=request)
    return Sent(True) if notice is not None else Sent(False, ALREADY_REMINDED)
