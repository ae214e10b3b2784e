"""What a restore reads from its snapshot: configuration records, and the issues in scope.

Only through the snapshot reader API (``backups.snapshots.reader``); the format is the backup
engine's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from backups.exceptions import ScopeError
from backups.snapshots.reader import SnapshotReader

__all__ = ["Scope", "ScopeError", "SnapshotSource", "issue_links"]


@dataclass
class Scope:
    project_keys: tuple[str, ...] = ()
    issue_keys: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        if self.issue_keys:
            return "issues"
        if self.project_keys:
            return "projects"
        return "site"


class SnapshotSource:
    """A snapshot's records, limited to a scope."""

    def __init__(self, reader: SnapshotReader, scope: Scope) -> None:
        self.reader = reader
        self.scope = scope

    @classmethod
    def open(cls, snapshot: Any, scope: Scope) -> SnapshotSource:
        return cls(SnapshotReader.open(snapshot.site.cloud_id, str(snapshot.pk)), scope)

    @property
    def cloud_id(self) -> str:
        return self.reader.manifest.cloud_id

    @property
    def snapshot_id(self) -> str:
        return self.reader.manifest.snapshot_id

    def records(self, kind: str) -> list[dict[str, Any]]:
        return list(self.reader.records(kind))

    @cached_property
    def all_projects(self) -> list[dict[str, Any]]:
        return self.records("projects")

    @cached_property
    def projects(self) -> list[dict[str, Any]]:
        """Projects in scope (for an issue scope: the projects of those issues)."""
        if self.scope.kind == "site":
            return self.all_projects
        if self.scope.kind == "projects":
            wanted = {k.upper() for k in self.scope.project_keys}
            found = [p for p in self.all_projects if p["key"].upper() in wanted]
            missing = wanted - {p["key"].upper() for p in found}
            if missing:
                raise ScopeError(f"the snapshot holds no project {', '.join(sorted(missing))}")
            return found
        ids = {str(i["projectId"]) for i in self.issues}
        return [p for p in self.all_projects if str(p["id"]) in ids]

    @cached_property
    def project_ids(self) -> set[str]:
        return {str(p["id"]) for p in self.projects}

    def components(self) -> list[dict[str, Any]]:
        return [
            c for c in self.records("components") if str(c.get("projectId")) in self.project_ids
        ]

    def versions(self) -> list[dict[str, Any]]:
        return [v for v in self.records("versions") if str(v.get("projectId")) in self.project_ids]

    def iter_issues(self) -> Iterator[dict[str, Any]]:
        keys = {k.upper() for k in self.scope.issue_keys}
        if self.scope.kind == "site":
            yield from self.reader.records("issues")
            return
        if self.scope.kind == "projects":
            project_ids = self.project_ids
            for record in self.reader.records("issues"):
                if str(record.get("projectId")) in project_ids:
                    yield record
            return
        for record in self.reader.records("issues"):
            if str(record.get("key", "")).upper() in keys:
                yield record

    @cached_property
    def issues(self) -> list[dict[str, Any]]:
        """Issues in scope, ordered by id (the order they were created in)."""
        issues = sorted(self.iter_issues(), key=lambda r: int(r["id"]))
        if self.scope.kind == "issues":
            missing = {k.upper() for k in self.scope.issue_keys} - {
                str(i["key"]).upper() for i in issues
            }
            if missing:
                raise ScopeError(f"the snapshot holds no issue {', '.join(sorted(missing))}")
        return issues


def issue_links(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The links of an issue record as ``{"id", "type", "from", "to"}`` ("from blocks to"); each
    link appears on both of its issues, so callers dedupe by id."""
    out = []
    for link in (record.get("fields") or {}).get("issuelinks") or []:
        type_name = (link.get("type") or {}).get("name")
        if "outwardIssue" in link:
            # "A blocks B" shows B as A's outwardIssue.
            src, dst = str(record["id"]), str(link["outwardIssue"]["id"])
            other_key = link["outwardIssue"].get("key", "")
        elif "inwardIssue" in link:
            src, dst = str(link["inwardIssue"]["id"]), str(record["id"])
            other_key = link["inwardIssue"].get("key", "")
        else:
            continue
        out.append(
            {
                "id": str(link.get("id")),
                "type": type_name,
                "from": src,
                "to": dst,
                "other_key": other_key,
            }
        )
    return out
