"""What every leased job's service does alike (restore and roll-back): cancel with an audit
event, resume a paused or interrupted job, find the running ones whose worker died."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from backups.jobs import leases
from tenants.audit import record_event


def job_cancel(
    *, job: Any, active: tuple[str, ...], acting_user: Any, reason: str, action: str, tenant: Any
) -> Any:
    """Cancel the job if still active, with the audit event ``action`` in the same
    transaction; cancelling an ended job does nothing."""
    with transaction.atomic():
        if leases.cancel(job, active=active, reason=reason):
            record_event(
                actor=acting_user,
                action=action,
                target=job,
                tenant=tenant,
                summary={"reason": reason[:200]},
            )
    job.refresh_from_db()
    return job


def job_resume(
    *, job: Any, acting_user: Any, action: str, tenant: Any, enqueue: Callable[[int], None]
) -> Any:
    """Queue again a job paused for re-authorization or interrupted (its lease expired)."""
    with transaction.atomic():
        changed = leases.requeue_paused(job)
        if changed:
            record_event(actor=acting_user, action=action, target=job, tenant=tenant, summary={})
        status = type(job).Status
        if changed or job.status in (status.QUEUED, status.RUNNING):
            enqueue(job.pk)
    job.refresh_from_db()
    return job


def stale_job_ids(model: Any) -> list[int]:
    """Running jobs whose lease expired (their worker died) and that wait for nothing."""
    now = timezone.now()
    return list(
        model.objects.filter(status=model.Status.RUNNING, lease_expires_at__lt=now)
        .exclude(not_before__gt=now)
        .values_list("pk", flat=True)
    )
