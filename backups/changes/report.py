"""The change view of a site: what changed between two snapshots, or between a snapshot and
the site now. One selector (``site_changes``) for the admin page and the command.

Issues are compared by a fingerprint of what a person edits (fields except the ones Jira moves
by itself, and the ids of comments, worklogs, attachments and remote links): the first side is
read once for fingerprints, the second once, and only the issues that differ are read again
for their field-level differences, so memory follows the number of changes, not the site.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from atlassian.exceptions import AtlassianError
from backups.changes.diff import (
    CREATED,
    DELETED,
    Change,
    config_changes,
    issue_changes,
    issue_fingerprint,
    issue_label,
)
from backups.changes.sides import Side, live_side, snapshot_side
from backups.models import Snapshot
from backups.snapshots.manifest import ManifestError
from backups.snapshots.shards import ShardError
from tenants.exceptions import SiteNeedsReauthorization, TokenUnavailable

MAX_ISSUES = 500  # issues listed with their differences; the counts cover them all
COLUMNS = ("area", "change", "object", "field", "before", "after")


class ChangesRefused(ValueError):
    """Two snapshots that cannot be compared (another site's, or not complete)."""


class SnapshotUnreadable(Exception):
    """A snapshot whose manifest or shards cannot be read (missing, damaged), or a site that
    cannot be read now (Atlassian refused, the grant needs re-authorization)."""


@dataclass
class ChangeReport:
    before: str
    after: str
    created: int = 0
    deleted: int = 0
    modified: int = 0
    changes: list[Change] = field(default_factory=list)
    # Issues beyond MAX_ISSUES: counted, not listed.
    not_listed: int = 0
    points: int = 0

    @property
    def issue_changes(self) -> list[Change]:
        return [c for c in self.changes if c.area == "issue"]

    @property
    def config_changes(self) -> list[Change]:
        return [c for c in self.changes if c.area != "issue"]

    def summary(self) -> str:
        config = len(self.config_changes)
        text = (
            f"{self.before} → {self.after}: {self.created} issue(s) created, {self.deleted} "
            f"deleted, {self.modified} modified; {config} configuration change(s)"
        )
        if self.not_listed:
            text += f" ({self.not_listed} issue(s) counted but not listed)"
        if self.points:
            text += f"; reading the site now cost {self.points} points"
        return text

    def rows(self) -> list[dict[str, str]]:
        return [c.as_dict() for c in self.changes]

    def as_json(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "issues": {
                "created": self.created,
                "deleted": self.deleted,
                "modified": self.modified,
                "not_listed": self.not_listed,
            },
            "points": self.points,
            "changes": self.rows(),
        }


def newest_snapshot(site: Any) -> Snapshot:
    found = (
        Snapshot.objects.filter(site=site, status=Snapshot.Status.COMPLETE)
        .order_by("-completed_at")
        .first()
    )
    if found is None:
        raise Snapshot.DoesNotExist(f"{site.url} has no complete snapshot")
    return found


def site_changes(*, before: Snapshot, after: Snapshot | None) -> ChangeReport:
    """What changed on ``before``'s site from ``before`` to ``after`` (None: the site now)."""
    if before.status != Snapshot.Status.COMPLETE:
        raise ChangesRefused(f"snapshot {before.pk} is not complete")
    if after is not None:
        if after.site_id != before.site_id:
            raise ChangesRefused("the two snapshots are of different sites")
        if after.status != Snapshot.Status.COMPLETE:
            raise ChangesRefused(f"snapshot {after.pk} is not complete")
    try:
        old = snapshot_side(before)
        if after is None:
            new = live_side(before.site, since=before.started_at, expected=old.reader.issue_index())
        else:
            new = snapshot_side(after)
        report = ChangeReport(before=old.label, after=new.label, points=new.points)
        names = {**old.names(), **new.names()}
        report.changes.extend(_issues(old, new, names, report))
    except (ManifestError, ShardError) as exc:
        raise SnapshotUnreadable(str(exc)) from exc
    except (AtlassianError, SiteNeedsReauthorization, TokenUnavailable) as exc:
        raise SnapshotUnreadable(f"{before.site.url} cannot be read now: {exc}") from exc
    report.changes.extend(config_changes(old.config, new.config, names=names))
    return report


def _issues(old: Side, new: Side, names: dict[str, str], report: ChangeReport) -> Iterator[Change]:
    fingerprints = {str(r["id"]): hash(issue_fingerprint(r)) for r in old.issues()}
    changed: dict[str, dict[str, Any]] = {}
    created: list[dict[str, Any]] = []
    seen: set[str] = set()
    for record in new.issues():
        rid = str(record["id"])
        seen.add(rid)
        if rid not in fingerprints:
            report.created += 1
            created.append({"key": record.get("key"), "label": issue_label(record)})
        elif hash(issue_fingerprint(record)) != fingerprints[rid]:
            report.modified += 1
            if len(changed) < MAX_ISSUES:
                changed[rid] = record
            else:
                report.not_listed += 1
    gone = new.gone if new.changed_only else set(fingerprints) - seen
    gone &= set(fingerprints)
    report.deleted = len(gone)
    before_records = {}
    wanted = set(changed) | gone
    if wanted:
        for record in old.issues():
            if str(record["id"]) in wanted:
                before_records[str(record["id"])] = record
    listed = 0
    for item in sorted(created, key=lambda c: str(c["key"])):
        if listed >= MAX_ISSUES:
            report.not_listed += 1
            continue
        listed += 1
        yield Change("issue", CREATED, item["label"])
    for rid in sorted(gone, key=int):
        if listed >= MAX_ISSUES:
            report.not_listed += 1
            continue
        listed += 1
        yield Change("issue", DELETED, issue_label(before_records[rid]))
    for rid in sorted(changed, key=int):
        yield from issue_changes(before_records[rid], changed[rid], names)
