"""The two sides a change view compares: a committed snapshot (read from storage, no Atlassian
call) or the site as it is now (read live, spending points).

Reading "now" costs what the configuration costs (as in a backup's ``config`` and ``meta``
steps) plus, per project, the issues updated since the snapshot started (one ``search/jql``
point per issue, one remote-link call each) and the deletion check an incremental backup
makes (``search/approximate-count`` over id ranges). Issues untouched since the snapshot are
not read: they cannot have changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from backups import conf
from backups.changes.diff import COMPARED_KINDS
from backups.engine import steps
from backups.engine.source import client_for_site
from backups.models import Snapshot
from backups.snapshots.reader import SnapshotReader
from tenants.scopes import site_software_scopes_missing

NAME_KINDS = ("fields", "projects")


@dataclass
class Side:
    """One side of a comparison. ``issues()`` yields issue records; on a live side only those
    that may have changed (``changed_only``), with ``gone``: the ids known to be deleted."""

    label: str
    config: dict[str, list[dict[str, Any]]]
    reader: SnapshotReader | None = None
    live_issues: list[dict[str, Any]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    changed_only: bool = False
    points: int = 0

    def issues(self) -> Iterator[dict[str, Any]]:
        if self.reader is not None:
            yield from self.reader.records("issues")
        else:
            yield from self.live_issues

    def names(self) -> dict[str, str]:
        """Field id -> name and ``project:<id>`` -> key: how changes name what they touch."""
        out = {str(f["id"]): str(f.get("name") or f["id"]) for f in self.config.get("fields", [])}
        out.update(
            {f"project:{p['id']}": str(p.get("key")) for p in self.config.get("projects", [])}
        )
        return out


def snapshot_side(snapshot: Snapshot) -> Side:
    reader = SnapshotReader.open(snapshot.site.cloud_id, str(snapshot.pk))
    present = {s.kind for s in reader.manifest.shards}
    config = {kind: list(reader.records(kind)) for kind in COMPARED_KINDS if kind in present}
    when = snapshot.completed_at.strftime("%Y-%m-%d %H:%M") if snapshot.completed_at else ""
    return Side(label=f"snapshot {str(snapshot.pk)[:8]} ({when} UTC)", config=config, reader=reader)


def live_side(site: Any, *, since: datetime, expected: dict[str, list[int]]) -> Side:
    """The site now: its configuration, the issues updated since ``since`` (minus the backup's
    safety overlap) and which of the ``expected`` issues (project id -> ids) are gone."""
    client = client_for_site(site)
    try:
        config, projects = live_configuration(client, site)
        start = since - timedelta(minutes=conf.overlap_minutes())
        minutes = int((timezone.now() - start).total_seconds() // 60) + 1
        issues: list[dict[str, Any]] = []
        gone: set[str] = set()
        for project in projects:
            pid = project["id"]
            for raw in client.search_jql(
                steps.delta_jql(pid, minutes), fields=steps.ISSUE_FIELDS, max_results=100
            ):
                issues.append(_live_record(client, raw, pid))
            missing, _unexpected = steps.gone_and_unexpected(client, pid, expected.get(pid, []))
            gone |= {str(i) for i in missing}
        for pid, ids in expected.items():
            if pid not in {p["id"] for p in projects}:
                gone |= {str(i) for i in ids}  # the whole project is gone
        return Side(
            label=f"now ({timezone.now():%Y-%m-%d %H:%M} UTC)",
            config={k: v for k, v in config.items() if k in COMPARED_KINDS},
            live_issues=issues,
            gone=gone,
            changed_only=True,
            points=client.ledger.take(),
        )
    finally:
        client.close()


def live_configuration(
    client: Any, site: Any
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, str]]]:
    """The site's configuration now, as a backup's ``config`` and ``meta`` steps read it (kind
    -> records), and its projects (``{"id", "key"}``)."""
    config: dict[str, list[dict[str, Any]]] = {}

    def keep(kind: str, records: Any) -> None:
        config.setdefault(kind, []).extend(records)

    ctx = steps.StepContext(
        client=client,
        store=None,
        site_pk=site.pk,
        software_missing=site_software_scopes_missing(site),
    )
    projects = steps.read_configuration(ctx, keep)["projects"]
    for project in projects:
        for kind, records in steps.project_meta(client, project):
            keep(kind, records)
    return config, projects


def _live_record(client: Any, issue: dict[str, Any], project_id: str) -> dict[str, Any]:
    """An issue as the comparison reads it: the snapshot record's shape, its attachments by
    id and name (no bytes are read)."""
    record = steps.issue_record(client, issue, project_id, {})
    record["attachments"] = [
        {"id": str(a["id"]), "filename": a.get("filename")}
        for a in record["fields"].get("attachment") or []
    ]
    return record
