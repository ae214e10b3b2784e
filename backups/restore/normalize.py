"""Normalized snapshot content: what a restore must reproduce, in a form two sites can be
compared on.

Keys and ids differ between a site and the copy a restore made of it; issues of a restored site
are therefore identified by the source issue recorded in their ``jbp.restore.source`` property,
and references between issues (links, parents) by those source ids. Left out, because Jira's
REST API cannot set them: created / updated / creator and comment and worklog authors and
creation times (always "now" and the restoring account; the restore writes them as a first
line "Originally by ...", stripped here), watchers, votes, the changelog (restored as a history
file, left out here), a sprint's completion date, and ids of comments, worklogs, attachments,
sprints and remote links. What remains: the projects (key, name, components, versions), every
issue's settable system fields, status and resolution, parent, sprints (name, state, dates,
goal), custom fields by name, properties, comments (bodies, in order), worklogs (start, time
spent, comment), remote links, links, attachments (name, type and the SHA-256 of their bytes),
the bytes every inline media node resolves to, and the rank order of the site's issues.
"""

from __future__ import annotations

from typing import Any

from backups.restore import provenance
from backups.restore.mapping import (
    RANK_TYPE,
    SOURCE_PROPERTY,
    SPRINT_TYPE,
    canonical,
    field_of_type,
)
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


def _media_as_bytes(doc: Any, by_media: dict[str, str]) -> Any:
    """``doc`` with each media node's id (which differs between sites) replaced by the
    SHA-256 of the attachment it shows."""
    if not provenance.media_ids_in(doc):
        return doc
    return provenance.remap_media(
        doc,
        {
            media_id: f"sha256:{by_media.get(media_id, 'unresolved')}"
            for media_id in provenance.media_ids_in(doc)
        },
        {},
    )


def normalize_snapshot(reader: SnapshotReader) -> dict[str, Any]:
    """``{"projects": {key: ...}, "issues": {source issue id: ...}}``."""
    fields_list = list(reader.records("fields"))
    sprint_field = field_of_type(fields_list, SPRINT_TYPE)
    rank_field = field_of_type(fields_list, RANK_TYPE)
    field_names = {
        str(f["id"]): str(f.get("name"))
        for f in fields_list
        if f.get("custom") and str(f["id"]) not in (sprint_field, rank_field)
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
    ranks: list[tuple[str, str]] = []
    for record in issues:
        project_ids.add(str(record.get("projectId")))
        fields = record.get("fields") or {}
        normal: dict[str, Any] = {
            "project": projects_by_id.get(str(record.get("projectId")), {}).get("key"),
        }
        attachments = [
            a
            for a in record.get("attachments") or []
            if not provenance.is_history_file(a.get("filename"))
        ]
        # What each inline media node shows: the bytes of the issue's attachment it names.
        by_media = {str(a["mediaId"]): a.get("sha256") for a in attachments if a.get("mediaId")}
        for name in SYSTEM_FIELDS:
            normal[name] = _media_as_bytes(fields.get(name), by_media)
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
        normal["status"] = (fields.get("status") or {}).get("name")
        normal["resolution"] = (fields.get("resolution") or {}).get("name")
        parent = fields.get("parent") or {}
        normal["parent"] = origin.get(str(parent.get("id")), parent.get("key")) if parent else None
        normal["sprints"] = sorted(
            (
                s.get("name"),
                s.get("state"),
                s.get("startDate"),
                s.get("endDate"),
                s.get("goal") or "",
            )
            for s in (fields.get(sprint_field) if sprint_field else None) or []
        )
        if rank_field and fields.get(rank_field):
            ranks.append((str(fields[rank_field]), origin[str(record["id"])]))
        normal["comments"] = [
            canonical(_media_as_bytes(provenance.strip_provenance(c.get("body")), by_media))
            for c in record.get("comments") or []
        ]
        normal["worklogs"] = sorted(
            (
                w.get("started"),
                w.get("timeSpentSeconds"),
                canonical(provenance.strip_provenance(w.get("comment"))),
            )
            for w in record.get("worklogs") or []
        )
        normal["remote_links"] = sorted(
            canonical({k: r.get(k) for k in ("globalId", "application", "relationship", "object")})
            for r in record.get("remoteLinks") or []
        )
        normal["attachments"] = sorted(
            (a.get("filename"), a.get("mimeType"), a.get("sha256"), a.get("size"))
            for a in attachments
        )
        documents = [fields.get("description")] + [
            c.get("body") for c in record.get("comments") or []
        ]
        normal["media"] = [
            by_media.get(media_id, f"unresolved:{media_id}")
            for media_id in provenance.media_ids_in(documents)
        ]
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
    return {
        "projects": projects,
        "issues": out_issues,
        "rank": [issue for _key, issue in sorted(ranks)],
    }


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
    if left.get("rank") != right.get("rank"):
        problems.append(
            f"rank order differs: {left.get('rank')!r:.120} != {right.get('rank')!r:.120}"
        )
    return problems
