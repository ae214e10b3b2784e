"""Reads of restore: snapshots by reference, and where an issue key appears in a site's
snapshots (to bring a deleted issue back)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from backups.models import Snapshot
from backups.snapshots.reader import SnapshotReader
from tenants.models import JiraSite

logger = logging.getLogger(__name__)


def snapshot_by_reference(reference: str) -> Snapshot:
    """A restorable snapshot by its id (or an unambiguous prefix of at least 8 characters)."""
    ref = reference.strip().lower()
    try:
        return Snapshot.objects.select_related("site").get(
            pk=uuid.UUID(ref), status=Snapshot.Status.COMPLETE
        )
    except (ValueError, Snapshot.DoesNotExist):
        pass
    if len(ref) >= 8:
        matches = [
            s
            for s in Snapshot.objects.select_related("site").filter(status=Snapshot.Status.COMPLETE)
            if str(s.pk).startswith(ref)
        ][:2]
        if len(matches) == 1:
            return matches[0]
    raise Snapshot.DoesNotExist(f"no restorable snapshot matches {reference!r}")


@dataclass(frozen=True)
class IssueFound:
    snapshot: Snapshot
    issue_id: str
    key: str
    summary: str
    updated: str
    comments: int
    attachments: int


def find_issue_in_snapshots(*, site: JiraSite, key: str, limit: int = 20) -> list[IssueFound]:
    """The snapshots of ``site`` (newest first) that hold issue ``key``, with what they hold of
    it. Reads each snapshot's issue shards (local storage, no Atlassian call)."""
    key = key.strip().upper()
    found: list[IssueFound] = []
    snapshots = Snapshot.objects.filter(site=site, status=Snapshot.Status.COMPLETE).order_by(
        "-completed_at"
    )[:limit]
    for snapshot in snapshots:
        try:
            reader = SnapshotReader.open(site.cloud_id, str(snapshot.pk))
            record = next(
                (r for r in reader.records("issues") if str(r.get("key", "")).upper() == key),
                None,
            )
        except Exception as exc:  # noqa: BLE001 - an unreadable snapshot holds nothing here
            logger.warning("snapshot %s cannot be read: %s", snapshot.pk, exc)
            continue
        if record is None:
            continue
        fields: dict[str, Any] = record.get("fields") or {}
        found.append(
            IssueFound(
                snapshot=snapshot,
                issue_id=str(record["id"]),
                key=record["key"],
                summary=str(fields.get("summary") or ""),
                updated=str(fields.get("updated") or ""),
                comments=len(record.get("comments") or []),
                attachments=len(record.get("attachments") or []),
            )
        )
    return found
