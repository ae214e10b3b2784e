"""The one seam between the operations console and the migration campaign services.

The wizard's campaign services (``tenants.services.campaigns``) send the invitation and the
reminders; the admin actions and the commands reach them only through ``invite`` and ``remind``
here, which turn their answer into "sent" or "skipped: <reason>".
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from tenants.models import MigrationCase, User


@dataclass(frozen=True)
class Sent:
    sent: bool
    reason: str = ""


def invite(
    *, case: MigrationCase, acting_user: User | None, request: HttpRequest | None = None
) -> Sent:
    from tenants.services.campaigns import migration_invite_send

    notice = migration_invite_send(case=case, acting_user=acting_user, request=request)
    return Sent(True) if notice is not None else Sent(False, "already sent today")


def remind(
    *, case: MigrationCase, acting_user: User | None, request: HttpRequest | None = None
) -> Sent:
    from tenants.services.campaigns import migration_reminder_send

    notice = migration_reminder_send(case=case, acting_user=acting_user, request=request)
    return Sent(True) if notice is not None else Sent(False, "already sent today")
