"""The one lease module: leases with heartbeats, and fencing, for any job model (backup and
restore jobs alike).

Every write of a running job is a conditional UPDATE on its lease token, so a worker whose lease
expired (and was taken over) commits nothing. A job model subclasses ``LeasedJob`` (the lease,
progress and timing columns) and has ``status`` with QUEUED, RUNNING, FAILED, CANCELLED and
PAUSED_NEEDS_REAUTH.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from backups import conf
from backups.exceptions import LeaseLost


class JobStatus(models.TextChoices):
    """The statuses of a restore or roll-back job (a backup job has its own)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Finished with errors"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    PAUSED_NEEDS_REAUTH = "paused_needs_reauth", "Paused: needs re-authorization"


class LeasedJob(models.Model):
    """What every leased job keeps besides its own fields and ``status``."""

    status_reason = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Lease: only the holder of lease_token may commit a step; a reaper re-queues expired ones.
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_generation = models.PositiveIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    current_step = models.CharField(max_length=200, blank=True)
    points_spent = models.PositiveBigIntegerField(default=0)
    # Not to be run before (a rate limit's Retry-After, a fair-share wait, a transient backoff).
    not_before = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]


def cancel(job: LeasedJob, *, active: tuple[str, ...], reason: str) -> bool:
    """Cancel the job if it is still active. Its lease is dropped with it, so a worker still
    running it is fenced out at its next write. False: it had already ended."""
    model = type(job)
    return bool(
        model.objects.filter(pk=job.pk, status__in=active).update(
            status=model.Status.CANCELLED,
            status_reason=(reason or "cancelled")[:500],
            lease_token=None,
            lease_expires_at=None,
            finished_at=timezone.now(),
        )
    )


def requeue_paused(job: LeasedJob) -> bool:
    """Queue again a job paused for re-authorization. False: it was not paused."""
    model = type(job)
    return bool(
        model.objects.filter(pk=job.pk, status=model.Status.PAUSED_NEEDS_REAUTH).update(
            status=model.Status.QUEUED, status_reason="resumed", attempts=0
        )
    )


@dataclass
class Lease:
    model: type[models.Model]
    job_id: int
    token: uuid.UUID
    generation: int
    _last_beat: float = field(default_factory=time.monotonic)

    def fenced(self) -> models.QuerySet:
        """The job's row, only while we still hold it."""
        return self.model.objects.filter(
            pk=self.job_id, lease_token=self.token, status=self.model.Status.RUNNING
        )

    def heartbeat(self, *, force: bool = False, **fields: Any) -> None:
        """Extend the lease (at most every third of its length unless forced or fields change)."""
        if (
            not force
            and not fields
            and time.monotonic() - self._last_beat < conf.lease_seconds() / 3
        ):
            return
        self.update(**fields)

    def update(self, **fields: Any) -> None:
        """Write ``fields`` (and extend the lease) only while we hold the job."""
        now = timezone.now()
        changed = self.fenced().update(
            heartbeat_at=now,
            lease_expires_at=now + timedelta(seconds=conf.lease_seconds()),
            **fields,
        )
        if changed != 1:
            raise self.lost()
        self._last_beat = time.monotonic()

    def lost(self) -> LeaseLost:
        name = self.model._meta.verbose_name
        return LeaseLost(f"{name} {self.job_id} lease {self.generation} was lost")


def claim(model: type[models.Model], job_id: int) -> Lease | None:
    """Take the job if it is queued, or running with an expired lease. None: someone else has
    it, or it is finished/paused/cancelled (a duplicate delivery is then a no-op)."""
    now = timezone.now()
    token = uuid.uuid4()
    changed = (
        model.objects.filter(pk=job_id, status__in=[model.Status.QUEUED, model.Status.RUNNING])
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            status=model.Status.RUNNING,
            lease_token=token,
            lease_generation=F("lease_generation") + 1,
            lease_expires_at=now + timedelta(seconds=conf.lease_seconds()),
            heartbeat_at=now,
            started_at=Coalesce(F("started_at"), now),
            not_before=None,
        )
    )
    if changed != 1:
        return None
    generation = model.objects.filter(pk=job_id).values_list("lease_generation", flat=True)[0]
    return Lease(model, job_id, token, generation)


def release(lease: Lease, *, not_before=None, **fields: Any) -> bool:
    """Give the job back (still running) so the next task execution can claim it at once."""
    now = timezone.now()
    return lease.fenced().update(lease_expires_at=now, not_before=not_before, **fields) == 1


def finish(lease: Lease, *, status: str, reason: str = "", **fields: Any) -> bool:
    """End our hold with ``status``; a job paused for re-authorization is not finished. An
    ended job has no current step (``last_checkpoint`` and the reason tell where it stopped)."""
    fields.setdefault("current_step", "")
    paused = status == lease.model.Status.PAUSED_NEEDS_REAUTH
    return (
        lease.fenced().update(
            status=status,
            status_reason=reason[:500],
            lease_token=None,
            lease_expires_at=None,
            finished_at=None if paused else timezone.now(),
            **fields,
        )
        == 1
    )


def held_for(model: type[models.Model], job_id: int) -> float | None:
    """Seconds until the lease of a job another worker holds expires (0 when it already has);
    None when the job cannot be claimed any more (it ended, or waits for re-authorization)."""
    rows = list(
        model.objects.filter(
            pk=job_id, status__in=[model.Status.QUEUED, model.Status.RUNNING]
        ).values_list("lease_expires_at", flat=True)[:1]
    )
    if not rows:
        return None
    expires = rows[0]
    return max(0.0, (expires - timezone.now()).total_seconds()) if expires else 0.0
