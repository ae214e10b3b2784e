"""Leases and fencing for restore jobs (as for backup jobs: every write of a running job is a
conditional UPDATE on its lease token, so a worker whose lease was taken over commits nothing)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from backups import conf
from backups.restore.models import RestoreJob


class LeaseLost(Exception):
    """Another worker holds the restore job now, or it was cancelled."""


@dataclass
class Lease:
    job_id: int
    token: uuid.UUID
    generation: int
    _last_beat: float = 0.0

    def fenced(self):
        return RestoreJob.objects.filter(
            pk=self.job_id, lease_token=self.token, status=RestoreJob.Status.RUNNING
        )

    def heartbeat(self, *, force: bool = False, **fields: Any) -> None:
        now_mono = time.monotonic()
        if not force and not fields and now_mono - self._last_beat < conf.lease_seconds() / 3:
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
            raise LeaseLost(f"restore job {self.job_id} lease {self.generation} was lost")
        self._last_beat = time.monotonic()


def claim(job_id: int) -> Lease | None:
    now = timezone.now()
    token = uuid.uuid4()
    changed = (
        RestoreJob.objects.filter(
            pk=job_id, status__in=[RestoreJob.Status.QUEUED, RestoreJob.Status.RUNNING]
        )
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            status=RestoreJob.Status.RUNNING,
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
    generation = RestoreJob.objects.filter(pk=job_id).values_list("lease_generation", flat=True)[0]
    lease = Lease(job_id, token, generation)
    lease._last_beat = time.monotonic()
    return lease


def release(lease: Lease, *, not_before=None, **fields: Any) -> bool:
    now = timezone.now()
    return lease.fenced().update(lease_expires_at=now, not_before=not_before, **fields) == 1


def finish(lease: Lease, *, status: str, reason: str = "", **fields: Any) -> bool:
    now = timezone.now()
    return (
        lease.fenced().update(
            status=status,
            status_reason=reason[:500],
            lease_token=None,
            lease_expires_at=None,
            finished_at=now if status != RestoreJob.Status.PAUSED_NEEDS_REAUTH else None,
            current_step="",
            **fields,
        )
        == 1
    )
