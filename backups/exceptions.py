"""What can go wrong in the backups domain, as one small taxonomy (backup and restore alike).

Every message is safe to show to support staff: no token, no secret, no request body. The job
driver's failure map (``backups.jobs.failures``) turns each into a job state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class BackupsError(Exception):
    """Base class of the backups domain's own exceptions."""


class BackupRefused(BackupsError):
    """A backup request refused before anything changed; the message is safe to show."""


class RestoreRefused(BackupsError):
    """A restore request refused before anything changed; the message is safe to show."""


class RollbackRefused(BackupsError):
    """A roll-back request refused before anything changed; the message is safe to show."""


class StatusUnreachable(BackupsError):
    """A roll-back cannot reach the snapshot's status from the issue's (reported on it)."""


class ScopeError(BackupsError):
    """A scope naming projects or issues the snapshot does not hold (safe to show)."""


class PolicyRefused(BackupsError):
    """A protection policy value refused; the message is safe to show and nothing changed."""


class LeaseLost(BackupsError):
    """Another worker holds the job now (ours expired), or the job was cancelled."""


class NotReady(BackupsError):
    """A unit cannot run yet for a reason that passes by itself (e.g. the target's search has not
    settled): the job is handed back and tried again in ``seconds``. Not a failure, not a rate
    limit: no attempt is counted."""

    def __init__(self, reason: str, *, seconds: float) -> None:
        self.reason = reason
        self.seconds = max(1.0, float(seconds))
        super().__init__(reason)


class TenantNotActive(BackupsError):
    """The job's tenant is suspended (or offboarded): its jobs stop."""

    def __init__(self, status: str, reason: str = "") -> None:
        self.status = status
        self.reason = reason
        detail = f": {reason}" if reason else ""
        super().__init__(f"the tenant is {status}{detail}; its backups and restores stop")


class SnapshotDamaged(BackupsError):
    """Objects of a snapshot are missing or do not hash to their manifest's SHA-256.
    ``objects`` are JSON-ready dicts (``sha256``, ``problem`` and where known ``issue``,
    ``filename``)."""

    LISTED = 5

    def __init__(self, objects: Sequence[dict[str, Any]], *, what: str = "object") -> None:
        self.objects = list(objects)
        named = "; ".join(_describe(o) for o in self.objects[: self.LISTED])
        more = len(self.objects) - self.LISTED
        tail = f"; and {more} more" if more > 0 else ""
        super().__init__(f"the snapshot has {len(self.objects)} damaged {what}(s): {named}{tail}")


def _describe(damaged: dict[str, Any]) -> str:
    where = " ".join(str(damaged[k]) for k in ("issue", "filename") if damaged.get(k))
    sha = str(damaged.get("sha256", ""))[:12]
    return f"{where or 'object'} ({sha}…: {damaged.get('problem', 'damaged')})"


__all__ = [
    "BackupRefused",
    "BackupsError",
    "LeaseLost",
    "NotReady",
    "RestoreRefused",
    "RollbackRefused",
    "ScopeError",
    "SnapshotDamaged",
    "StatusUnreachable",
    "TenantNotActive",
]
