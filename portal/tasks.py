"""Housekeeping of the portal's short-lived rows (Celery beat; see CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from portal.models import OAuthState, PendingConnection

# Keep used/expired states a day for support ("why did my connect fail?"), then drop them.
STATE_RETENTION = timedelta(days=1)


def purge_expired_connect_rows() -> tuple[int, int]:
    """Delete pending connections past their ten minutes (their tokens with them) and
    states expired more than ``STATE_RETENTION`` ago. Returns (pending, states) deleted."""
    now = timezone.now()
    pending, _ = PendingConnection.objects.filter(expires_at__lte=now).delete()
    states, _ = OAuthState.objects.filter(expires_at__lte=now - STATE_RETENTION).delete()
    return pending, states


@shared_task(name="portal.purge_expired_connect_rows", max_retries=0, ignore_result=True)
def purge_expired_connect_rows_task() -> None:
    purge_expired_connect_rows()
