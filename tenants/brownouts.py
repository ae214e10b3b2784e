"""Brownouts: windows, before ``LEGACY_CUTOFF``, in which legacy credentials are refused early
to nudge the customers who have not migrated yet (Atlassian itself did this before removing
old APIs). Staff schedule them in the admin (``BrownoutWindow``).

``brownout_hook`` is the Atlassian client's hook (``settings.ATLASSIAN_LEGACY_BROWNOUT_HOOK``):
the client asks it before every legacy request and, when it answers a reason, raises
``LegacyAccessRefused(reason="brownout")`` without sending anything. The backup engine turns
that into a job paused for re-authorization, which the reaper resumes after the window.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import DatabaseError, transaction
from django.http import HttpRequest
from django.utils import timezone

from tenants.audit import record_event
from tenants.exceptions import DomainError
from tenants.models import BrownoutWindow, User

logger = logging.getLogger(__name__)


def active_brownout(*, now: datetime | None = None) -> BrownoutWindow | None:
    """The brownout window covering ``now`` (the one ending last if several overlap)."""
    now = now or timezone.now()
    return (
        BrownoutWindow.objects.filter(starts_at__lte=now, ends_at__gt=now)
        .order_by("-ends_at")
        .first()
    )


def brownout_reason(window: BrownoutWindow) -> str:
    return (
        f"{window.reason} (legacy credentials are refused until "
        f"{window.ends_at:%Y-%m-%d %H:%M} UTC; connect the site through the vendor app)"
    )


def brownout_hook(*, site_id: Any = None, credential_kind: str = "", now: datetime) -> str | None:
    """The Atlassian client's brownout hook: a readable reason to refuse, or None."""
    try:
        window = active_brownout(now=now)
    except DatabaseError:
        # A nudge, not a safety control (the cutoff is): never fail a request because of it.
        logger.warning("brownout windows could not be read; legacy request allowed")
        return None
    if window is None:
        return None
    logger.info("legacy request for site %s refused: brownout %s", site_id, window.pk)
    return brownout_reason(window)


@transaction.atomic
def brownout_window_save(
    *, window: BrownoutWindow, acting_user: User | None, request: HttpRequest | None = None
) -> BrownoutWindow:
    """Schedule a brownout window or change one (the admin's save)."""
    if not window.reason.strip():
        raise DomainError("a brownout needs a reason the customers will read")
    if window.ends_at <= window.starts_at:
        raise DomainError("a brownout must end after it starts")
    created = window.pk is None
    window.reason = window.reason.strip()
    if created and window.created_by_id is None and getattr(acting_user, "pk", None):
        window.created_by = acting_user
    window.save()
    record_event(
        actor=acting_user,
        action="brownout.scheduled" if created else "brownout.changed",
        target=window,
        summary={
            "starts_at": window.starts_at.isoformat(),
            "ends_at": window.ends_at.isoformat(),
            "reason": window.reason,
        },
        request=request,
    )
    return window


@transaction.atomic
def brownout_window_delete(
    *, window: BrownoutWindow, acting_user: User | None, request: HttpRequest | None = None
) -> None:
    record_event(
        actor=acting_user,
        action="brownout.cancelled",
        target=window,
        summary={"starts_at": window.starts_at.isoformat(), "ends_at": window.ends_at.isoformat()},
        request=request,
    )
    window.delete()


__all__ = [
    "active_brownout",
    "brownout_hook",
    "brownout_reason",
    "brownout_window_delete",
    "brownout_window_save",
]
