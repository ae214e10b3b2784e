"""Backup jobs' leases (see ``backups.leases``) and their checkpoints."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from backups import conf, leases
from backups.leases import Lease, LeaseLost, finish, release
from backups.models import BackupJob, Checkpoint

__all__ = ["Lease", "LeaseLost", "claim", "commit_checkpoint", "finish", "release"]


def claim(job_id: int) -> Lease | None:
    return leases.claim(BackupJob, job_id)


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
            raise lease.lost()
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
