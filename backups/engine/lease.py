"""Leases with heartbeats, and fencing: every write of a running job is a conditional UPDATE
on its lease token, so a worker whose lease expired (and was taken over) commits nothing."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from backups import conf
from backups.models import BackupJob, Checkpoint


class LeaseLost(Exception):
    """Another worker holds the job now (ours expired), or the job was cancelled."""


@dataclass
class Lease:
    job_id: int
    token: uuid.UUID
    generation: int
    _last_beat: float = 0.0

    def fenced(self):
        """The job's row, only while we still hold it."""
        return BackupJob.objects.filter(
            pk=self.job_id, lease_token=self.token, status=BackupJob.Status.RUNNING
        )

    def heartbeat(self, *, force: bool = False, **fields: Any) -> None:
        """Extend the lease (at most every third of its length unless forced or fields change)."""
        now_mono = time.monotonic()
        if not force and not fields and now_mono - self._last_beat < conf.lease_seconds() / 3:
            return
        now = timezone.now()
        changed = self.fenced().update(
            heartbeat_at=now,
            lease_expires_at=now + timedelta(seconds=conf.lease_seconds()),
            **fields,
        )
        if changed != 1:
            raise LeaseLost(f"job {self.job_id} lease {self.generation} was lost")
        self._last_beat = now_mono


def claim(job_id: int) -> Lease | None:
    """Take the job if it is queued, or running with an expired lease. None: someone else has
    it, or it is finished/paused/cancelled (a duplicate delivery is then a no-op)."""
    now = timezone.now()
    token = uuid.uuid4()
    changed = (
        BackupJob.objects.filter(
            pk=job_id, status__in=[BackupJob.Status.QUEUED, BackupJob.Status.RUNNING]
        )
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            status=BackupJob.Status.RUNNING,
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
    generation = BackupJob.objects.filter(pk=job_id).values_list("lease_generation", flat=True)[0]
    lease = Lease(job_id, token, generation)
    lease._last_beat = time.monotonic()
    return lease


def commit_checkpoint(
    lease: Lease,
    *,
    key: str,
    seq: int,
    result: dict[str, Any],
    points: int,
    objects: int,
    bytes_stored: int,
) -> Checkpoint:
    """Record a finished step and the job's progress atomically, only under our lease."""
    now = timezone.now()
    with transaction.atomic():
        changed = lease.fenced().update(
            heartbeat_at=now,
            lease_expires_at=now + timedelta(seconds=conf.lease_seconds()),
            last_checkpoint=key,
            objects_done=F("objects_done") + objects,
            points_spent=F("points_spent") + points,
            bytes_stored=F("bytes_stored") + bytes_stored,
        )
        if changed != 1:
            raise LeaseLost(f"job {lease.job_id} lease {lease.generation} was lost")
        checkpoint, _ = Checkpoint.objects.update_or_create(
            job_id=lease.job_id,
            key=key,
            defaults={
                "seq": seq,
                "status": Checkpoint.Status.DONE,
                "result": result,
                "points": points,
                "objects_done": objects,
                "lease_generation": lease.generation,
            },
        )
    lease._last_beat = time.monotonic()
    return checkpoint


def release(lease: Lease, *, not_before=None, **fields: Any) -> bool:
    """Give the job back (still running) so the next task execution can claim it at once."""
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
            finished_at=now if status != BackupJob.Status.PAUSED_NEEDS_REAUTH else None,
            **fields,
        )
        == 1
    )
