"""Every byte a restore sends to Atlassian is checked against its manifest's SHA-256.

Objects are content-addressed: an attachment's recorded ``sha256`` *is* the hash its bytes must
have. ``damaged_attachments`` checks a scope before anything is written (the dry run's plan and
the restore's first phase name what is damaged); ``read_verified`` checks the bytes again as
they leave storage, so damage that appears in between is never uploaded either.
"""

from __future__ import annotations

import hashlib
from typing import Any

from backups.exceptions import SnapshotDamaged
from backups.restore.source import SnapshotSource
from backups.snapshots.objects import ObjectStore
from backups.snapshots.sealing import SealedObjectError


def object_problem(store: ObjectStore, sha256: str) -> str | None:
    """None when the stored object hashes to ``sha256``; else what is wrong with it."""
    if not sha256:
        return "no hash recorded"
    if store.size(sha256) is None:
        return "missing"
    try:
        actual = store.hash_of_stored(sha256).sha256
    except SealedObjectError as exc:  # a sealed object that does not open: damaged
        return f"unreadable ({exc})"
    if actual != sha256:
        return f"content hashes to {actual[:12]}…, not to its name"
    return None


def damaged_attachments(source: SnapshotSource) -> list[dict[str, Any]]:
    """The attachments of the issues in scope whose stored bytes are missing or do not hash to
    their manifest's SHA-256, one entry per (issue, attachment). Each object is read once."""
    store = source.reader.objects
    checked: dict[str, str | None] = {}
    damaged: list[dict[str, Any]] = []
    for record in source.issues:
        for att in record.get("attachments") or []:
            sha = str(att.get("sha256") or "")
            if sha not in checked:
                checked[sha] = object_problem(store, sha)
            if checked[sha]:
                damaged.append(
                    {
                        "issue": record.get("key", ""),
                        "filename": att.get("filename") or "",
                        "sha256": sha,
                        "problem": checked[sha],
                    }
                )
    return damaged


def read_verified(store: ObjectStore, sha256: str, *, issue: str = "", filename: str = "") -> bytes:
    """The object's bytes, only if they hash to ``sha256``; else ``SnapshotDamaged``."""
    problem = "missing" if store.size(sha256) is None else None
    if problem is None:
        try:
            data = store.read(sha256)
        except SealedObjectError as exc:
            data, problem = b"", f"unreadable ({exc})"
    if problem is None:
        actual = hashlib.sha256(data).hexdigest()
        if actual == sha256:
            return data
        problem = f"content hashes to {actual[:12]}…, not to its name"
    damaged = {"issue": issue, "filename": filename, "sha256": sha256, "problem": problem}
    raise SnapshotDamaged([damaged], what="attachment")


__all__ = ["damaged_attachments", "object_problem", "read_verified"]
