"""A backup job's checkpoints: one per finished step, committed under the job's lease, and the
compact view of them the plan keeps in memory."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from backups import conf
from backups.jobs.leases import Lease
from backups.models import BackupJob, Checkpoint

# What a checkpoint's result holds per issue or per attachment (the page's issue ids; the
# attachment refs of checkpoints written before format 2) and per page (its shards). The plan
# keeps the rest in memory and reads these back, streamed, when it needs them: a job's memory
# does not grow with the size of the site.
BULKY = frozenset({"ids", "attachments", "shards"})


@dataclass(slots=True)
class Done:
    """A finished step as the plan keeps it."""

    key: str
    points: int
    result: dict[str, Any]

    @classmethod
    def of(cls, key: str, points: int, result: dict[str, Any]) -> Done:
        return cls(key, points, {k: v for k, v in result.items() if k not in BULKY})


def load_done(job: BackupJob) -> dict[str, Done]:
    rows = (
        job.checkpoints.filter(status=Checkpoint.Status.DONE)
        .order_by("key")
        .values_list("key", "points", "result")
    )
    return {
        key: Done.of(key, points, result) for key, points, result in rows.iterator(chunk_size=200)
    }


def results(job: BackupJob, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, full result) of the job's finished steps whose key starts with ``prefix``, streamed
    from the database in key order."""
    rows = job.checkpoints.filter(status=Checkpoint.Status.DONE, key__startswith=prefix)
    return rows.order_by("key").values_list("key", "result").iterator(chunk_size=100)


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
