"""Restore jobs' leases: the same fencing as backup jobs (``backups.leases``)."""

from __future__ import annotations

from typing import Any

from backups import leases
from backups.leases import Lease, LeaseLost, release
from backups.restore.models import RestoreJob

__all__ = ["Lease", "LeaseLost", "claim", "finish", "release"]


def claim(job_id: int) -> Lease | None:
    return leases.claim(RestoreJob, job_id)


def finish(lease: Lease, *, status: str, reason: str = "", **fields: Any) -> bool:
    return leases.finish(lease, status=status, reason=reason, current_step="", **fields)
