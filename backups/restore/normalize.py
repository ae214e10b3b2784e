"""Normalized snapshot content: what a restore must reproduce, in a form two sites can be
compared on.

Keys and ids differ between a site and the copy a restore made of it; issues of a restored site
are therefore identified by the source issue recorded in their ``jbp.restore.source`` property,
and references between issues (links) by those source ids. Left out, because Jira's REST API
cannot set them on create: status and resolution (they need workflow transitions), created /
updated / creator and comment and worklog authors and creation times (always "now" and the
restoring account), watchers, votes, changelog, and ids of comments, worklogs, attachments and
remote links. What remains: the projects (key, name, components, versions), every issue's
settable system fields, custom fields by name, properties, comments (bodies, in order),
worklogs (start, time spent, comment), remote links, links and attachments (name, type and the
SHA-256 of their bytes).
"""

from __future__ import annotations

from typing import Any

from backups.restore.mapping import SOURCE_PROPERTY, canonical
from backups.restore.source import issue_links
from backups.snapshots.reader import SnapshotReader

SYSTEM_FIELDS = ("summary", "description", "environment", "duedate")
NAMED_FIELDS = ("priority", "issuetype")
USER_FIELDS = ("assignee", "reporter")
LIST_FIELDS = ("components", "fixVersions", "versions")


def _value(value: Any) -> Any:
    """A field value without ids that differ between sites."""
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        if "accountId" in value:
            return {"accountId": value["accountId"]}
        if "value" in value and ("id" in value or "self" in value):
            out: dict[str, Any] = {"value": value["value"]}
            if isinstance(value.get("child"), dict):
                out["child"] = _value(value["child"])
            return out
        if value.get("type") == "doc":
            return value
        if "name" in value and ("id" in value or "self" in value):
            return value["name"]
        return value
    return value


def normalize_snapshot(reader: SnapshotReader) -> dict[str, Any]:
    """``{"projects": {key: ...}, "issues": {source issue id: ...}}``."""
    field_names = {
        str(f["id"]): str(f.get("name")) for f in reader.records("fields") if f.get("custom")
    }
    projects_by_id = {str(p["id"]): p for p in reader.records("projects")}
    components: dict[str, list[str]] = {}
    for record in reader.records("components"):
        components.setdefault(str(record.get("projectId")), []).append(record["name"])
    versions: dict[str, list[tuple]] = {}
    for record in reader.records("versions"):
        versions.setdefault(str(record.get("projectId")), []).append(
            (record["name"], bool(record.get("released")), record.get("releaseDate"))
        )
    issues = list(reader.records("issues"))
    # Source id of every issue: itself, or the issue it was restored from.
    origin = {}
    for record in issues:
        prop = (record.get("properties") or {}).get(SOURCE_PROPERTY) or {}
        origin[str(record["id"])] = str(prop.get("issueId") or record["id"])
    out_issues: dict[str, Any] = {}
    project_ids = set()
    for record in issues:
        project_ids.add(str(record.get("projectId")))
        fields = record.get("fields") or {}
        normal: dict[str, Any] = {
            "project": projects_by_id.get(str(record.get("projectId")), {}).get("key"),
        }
        for name in SYSTEM_FIELDS:
            normal[name] = fields.get(name)
        for name in NAMED_FIELDS:
            normal[name] = (fields.get(name) or {}).get("name")
        for name in USER_FIELDS:
            normal[name] = (fields.get(name) or {}).get("accountId")
        normal["labels"] = sorted(fields.get("labels") or [])
        for name in LIST_FIELDS:
            normal[name] = sorted(v.get("name") for v in fields.get(name) or [])
        custom = {}
        for fid, name in field_names.items():
            value = _value(fields.get(fid))
            if value not in (None, []):
                custom[name] = value
        normal["custom"] = custom
        normal["properties"] = {
            k: v for k, v in (record.get("properties") or {}).items() if k != SOURCE_PROPERTY
        }
        normal["comments"] = [canonical(c.get("body")) for c in record.get("comments") or []]
        normal["worklogs"] = sorted(
            (w.get("started"), w.get("timeSpentSeconds"), canonical(w.get("comment")))
            for w in record.get("worklogs") or []
        )
        normal["remote_links"] = sorted(
            canonical({k: r.get(k) for k in ("globalId", "application", "relationship", "object")})
            for r in record.get("remoteLinks") or []
        )
        normal["attachments"] = sorted(
            (a.get("filename"), a.get("mimeType"), a.get("sha256"), a.get("size"))
            for a in record.get("attachments") or []
        )
        normal["links"] = sorted(
            (
                link["type"],
                origin.get(link["from"], f"outside:{link['from']}"),
                origin.get(link["to"], f"outside:{link['to']}"),
            )
            for link in issue_links(record)
        )
        out_issues[origin[str(record["id"])]] = normal
    projects = {}
    for pid in sorted(set(projects_by_id) | project_ids):
        project = projects_by_id.get(pid, {})
        projects[project.get("key")] = {
            "name": project.get("name"),
            "components": sorted(components.get(pid, [])),
            "versions": sorted(versions.get(pid, [])),
        }
    return {"projects": projects, "issues": out_issues}


def differences(left: dict[str, Any], right: dict[str, Any], *, limit: int = 20) -> list[str]:
    """Readable differences between two normalized snapshots (empty when equal)."""
    problems: list[str] = []
    for section in ("projects", "issues"):
        a, b = left.get(section, {}), right.get(section, {})
        for key in sorted(set(a) | set(b), key=str):
            if key not in b:
                problems.append(f"{section} {key}: missing on the right")
            elif key not in a:
                problems.append(f"{section} {key}: only on the right")
            elif a[key] != b[key]:
                for name in sorted(set(a[key]) | set(b[key])):
                    if a[key].get(name) != b[key].get(name):
                        problems.append(
                            f"{section} {key} {name}: {a[key].get(name)!r:.120} != "
                            f"{b[key].get(name)!r:.120}"
                        )
            if len(problems) >= limit:
                return problems
    return problems
