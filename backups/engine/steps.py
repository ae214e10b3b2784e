"""The steps of a backup, each small, idempotent and free of database writes.

A step reads from Jira, writes content-addressed objects to storage, and returns a
``StepResult`` (shard references and cursors) that the runner commits as a checkpoint under the
job's lease. Re-running a step after a crash writes the same objects again (a no-op) and returns
the same result, so nothing is lost or duplicated.

Endpoint mix (points are the scarce resource; see docs/backups.md):

* issues come from ``search/jql`` pages with ``fields=*all``, ``expand=changelog`` and
  ``properties=*all``: one point per issue buys its fields, links, attachment metadata,
  properties and the first 20 comments, worklogs and changelog entries;
* only issues over those inline caps cost more: ``changelog/bulkfetch`` (one call for up to
  1000 issues) and the per-issue comment and worklog pages;
* remote links have no bulk endpoint: one call per issue (1 point + 1 per link);
* attachment bytes only for attachments this site never stored before (``StoredAttachment``);
* deletions in incremental runs: ``search/approximate-count`` (1 point, no objects) over id
  ranges, bisected down to small id-only pages only where the count disagrees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from atlassian.exceptions import ApiBadRequest, ApiForbidden, ApiNotFound
from backups.config.capture import context_scopes, project_schemes, site_configuration
from backups.models import StoredAttachment
from backups.snapshots.manifest import ATTACHMENT_REFS, ShardEntry
from backups.snapshots.objects import ObjectStore
from backups.snapshots.writer import write_attachment_refs, write_shard

logger = logging.getLogger(__name__)

INLINE_CAP = 20
ID_PAGE = 5000
DELETION_LEAF = 64
ISSUE_FIELDS = ("*all",)
ISSUE_EXPAND = "changelog"
ISSUE_PROPERTIES = ("*all",)
OPTION_TYPES = ("select", "multiselect", "radiobuttons", "multicheckboxes", "cascadingselect")


@dataclass
class StepResult:
    shards: list[ShardEntry] = field(default_factory=list)
    objects: int = 0
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"shards": [s.as_dict() for s in self.shards], "objects": self.objects, **self.data}

    def add_issue_shards(
        self,
        store: ObjectStore,
        name: str,
        records: list[dict[str, Any]],
        attachments: list[dict[str, Any]],
        seq: int,
    ) -> None:
        """The page's issues shard and, beside it, the refs shard naming its attachments."""
        self.shards.append(write_shard(store, "issues", name, records, seq=seq))
        refs = write_attachment_refs(
            store,
            name.replace("issues/", f"{ATTACHMENT_REFS}/", 1),
            ((a["sha256"], a["size"]) for a in attachments),
            seq=seq,
        )
        if refs is not None:
            self.shards.append(refs)


@dataclass
class StepContext:
    client: Any
    store: ObjectStore
    site_pk: int
    heartbeat: Callable[[], None] = lambda: None
    # Jira Software scopes the site's grant lacks: boards and sprints are then not read.
    software_missing: list[str] = field(default_factory=list)
    # The base snapshot of an incremental run (a SnapshotReader): configuration that costs a
    # point per field (screen tabs, field configuration items) is carried over from it.
    base_reader: Any = None


def _user(record: dict[str, Any]) -> dict[str, Any]:
    keep = ("accountId", "accountType", "displayName", "active", "timeZone", "locale")
    return {k: record[k] for k in keep if k in record}


def config_step(ctx: StepContext) -> StepResult:
    """Site-wide configuration, users and the project list."""
    result = StepResult()

    def shard(kind: str, records: Iterable[dict[str, Any]]) -> None:
        records = list(records)
        result.shards.append(write_shard(ctx.store, kind, f"{kind}/all", records))
        result.objects += len(records)

    result.data.update(read_configuration(ctx, shard))
    return result


def read_configuration(ctx: StepContext, shard: Callable) -> dict[str, Any]:
    """Read the site-wide configuration, handing each kind's records to ``shard(kind,
    records)``; returns the project list and the notes (what was left out). The change view
    reads a live site through it too, keeping the records in memory."""
    c = ctx.client
    shard("statuses", sorted(c.statuses(), key=lambda r: str(r["id"])))
    shard("issue_types", sorted(c.issue_types(), key=lambda r: str(r["id"])))
    shard("priorities", sorted(c.priorities(), key=lambda r: str(r["id"])))
    shard("link_types", sorted(c.issue_link_types(), key=lambda r: str(r["id"])))
    fields = sorted(c.fields(), key=lambda r: str(r["id"]))
    shard("fields", fields)
    contexts, options = [], []
    for fld in fields:
        if not fld.get("custom"):
            continue
        fid = fld["id"]
        field_contexts = [{**ctx_, "fieldId": fid} for ctx_ in c.field_contexts(fid)]
        context_scopes(c, fid, field_contexts)
        contexts.extend(field_contexts)
        custom_type = str((fld.get("schema") or {}).get("custom", "")).rsplit(":", 1)[-1]
        if custom_type in OPTION_TYPES:
            for context in field_contexts:
                options.extend(
                    {**opt, "fieldId": fid, "contextId": str(context["id"])}
                    for opt in c.field_context_options(fid, str(context["id"]))
                )
    shard("field_contexts", contexts)
    shard("field_options", options)
    shard("users", sorted((_user(u) for u in c.users()), key=lambda r: r["accountId"]))
    projects = sorted(c.projects(), key=lambda r: int(r["id"]))
    shard("projects", projects)
    notes = _workflow_shards(c, projects, shard) + _agile_shards(ctx, shard)
    notes += site_configuration(
        c, [str(p["id"]) for p in projects], shard, previous=ctx.base_reader
    )
    shard("snapshot_notes", notes)
    return {
        "projects": [{"id": str(p["id"]), "key": p["key"]} for p in projects],
        "notes": [n["reason"] for n in notes],
    }


def _workflow_shards(c: Any, projects: list[dict[str, Any]], shard: Callable) -> list[dict]:
    """Resolutions, workflows (statuses and transitions) and which scheme each project uses:
    what a restore needs to walk an issue to its status. Workflows need a site admin."""
    shard("resolutions", sorted(c.resolutions(), key=lambda r: str(r["id"])))
    try:
        workflows = [
            {k: w.get(k) for k in ("id", "name", "statuses", "transitions")} for w in c.workflows()
        ]
        schemes = []
        ids = [str(p["id"]) for p in projects]
        for start in range(0, len(ids), 100):
            for entry in c.workflow_scheme_projects(ids[start : start + 100]):
                scheme = entry.get("workflowScheme") or {}
                schemes.extend(
                    {
                        "projectId": str(pid),
                        "id": str(scheme.get("id")),
                        "name": scheme.get("name"),
                        "defaultWorkflow": scheme.get("defaultWorkflow"),
                        "issueTypeMappings": scheme.get("issueTypeMappings") or {},
                    }
                    for pid in entry.get("projectIds") or []
                )
    except ApiForbidden:
        shard("workflows", [])
        shard("workflow_schemes", [])
        return [
            {
                "id": "workflows",
                "part": "workflows",
                "reason": "workflows not backed up: the connecting account is not a site admin",
            }
        ]
    shard("workflows", sorted(workflows, key=lambda w: str(w["name"])))
    shard("workflow_schemes", sorted(schemes, key=lambda r: int(r["projectId"])))
    return []


def _agile_shards(ctx: StepContext, shard: Callable) -> list[dict]:
    """Jira Software's boards (with the rank field they order by) and every sprint of them."""
    if ctx.software_missing:
        shard("boards", [])
        shard("sprints", [])
        return [
            {
                "id": "sprints",
                "part": "boards and sprints",
                "reason": "boards and sprints not backed up: the grant lacks Jira Software's "
                f"scopes ({', '.join(ctx.software_missing)}); the customer must consent again",
            }
        ]
    c = ctx.client
    boards, sprints = [], {}
    for board in c.boards():
        location = board.get("location") or {}
        configuration = c.board_configuration(board["id"])
        boards.append(
            {
                "id": board["id"],
                "name": board.get("name"),
                "type": board.get("type"),
                "projectId": str(location.get("projectId") or ""),
                "projectKey": location.get("projectKey"),
                "rankCustomFieldId": (configuration.get("ranking") or {}).get("rankCustomFieldId"),
                "filterId": str((configuration.get("filter") or {}).get("id") or "") or None,
                "columns": [
                    {
                        "name": col.get("name"),
                        "statuses": sorted(str(s.get("id")) for s in col.get("statuses") or []),
                    }
                    for col in (configuration.get("columnConfig") or {}).get("columns") or []
                ],
            }
        )
        for sprint in c.board_sprints(board["id"]):
            sprints.setdefault(sprint["id"], {k: v for k, v in sprint.items() if k != "self"})
    shard("boards", sorted(boards, key=lambda b: int(b["id"])))
    shard("sprints", [sprints[k] for k in sorted(sprints)])
    return []


def project_meta_step(ctx: StepContext, project: dict[str, str]) -> StepResult:
    """Components, versions, role actors, statuses and schemes of one project."""
    result = StepResult()
    for kind, records in project_meta(ctx.client, project):
        result.shards.append(write_shard(ctx.store, kind, f"{kind}/{project['id']}", records))
        result.objects += len(records)
    return result


def project_meta(c: Any, project: dict[str, str]) -> list[tuple[str, list[dict[str, Any]]]]:
    """``(kind, records)`` of one project's parts, each sorted by id."""
    key, pid = project["key"], project["id"]
    components = [{**comp, "projectId": pid} for comp in c.project_components(key)]
    versions = [{**ver, "projectId": pid} for ver in c.project_versions(key)]
    statuses = [
        {"projectId": pid, "id": str(t["id"]), "name": t.get("name"), "statuses": t["statuses"]}
        for t in c.project_statuses(key)
    ]
    roles = []
    for name, url in sorted(c.project_roles(key).items()):
        role_id = str(url).rstrip("/").rsplit("/", 1)[-1]
        role = c.project_role(key, role_id)
        roles.append(
            {
                "projectId": pid,
                "id": str(role.get("id", role_id)),
                "name": role.get("name", name),
                "actors": role.get("actors", []),
            }
        )
    out = [
        ("components", components),
        ("versions", versions),
        ("project_roles", roles),
        ("project_statuses", statuses),
        ("project_schemes", [project_schemes(c, project)]),
    ]
    for _kind, records in out:
        records.sort(key=lambda r: str(r["id"]))
    return out


def issue_page_step(
    ctx: StepContext,
    *,
    project: dict[str, str],
    jql: str,
    token: str | None,
    shard_name: str,
    seq: int,
    page_size: int,
) -> StepResult:
    """One page of issues (``jql`` ordered by id) with everything they hold, as one shard."""
    page = ctx.client.search_jql_page(
        jql,
        next_page_token=token,
        fields=ISSUE_FIELDS,
        expand=ISSUE_EXPAND,
        properties=ISSUE_PROPERTIES,
        max_results=page_size,
    )
    records, attachments = complete_issues(ctx, page.issues, project["id"])
    result = StepResult(objects=len(records))
    result.add_issue_shards(ctx.store, shard_name, records, attachments, seq)
    result.data.update(
        next_token=page.next_page_token,
        is_last=page.is_last or not page.next_page_token,
        ids=[int(r["id"]) for r in records],
    )
    return result


def complete_issues(
    ctx: StepContext, raw_issues: list[dict[str, Any]], project_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Issue records with everything beyond the inline caps fetched, and their attachments."""
    c = ctx.client
    issues = sorted(raw_issues, key=lambda i: int(i["id"]))
    long_changelogs = [
        i["id"]
        for i in issues
        if (i.get("changelog") or {}).get("total", 0)
        > len((i.get("changelog") or {}).get("histories") or [])
    ]
    changelogs: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(long_changelogs), 1000):
        for entry in c.changelog_bulkfetch(
            long_changelogs[start : start + 1000], max_results=10000
        ):
            changelogs.setdefault(str(entry["issueId"]), []).extend(
                entry.get("changeHistories") or []
            )
    records, attachment_refs = [], []
    known = _known_attachments(ctx.site_pk, issues)
    stored: dict[str, tuple[str, int]] = {}
    for issue in issues:
        try:
            record = issue_record(c, issue, project_id, changelogs)
        except ApiNotFound:
            # Deleted between the search and now: the next run's deletion pass agrees.
            logger.info("issue %s vanished during the backup; skipped", issue.get("key"))
            continue
        record["attachments"] = []
        # Media nodes name the media service's ids, not attachment ids: resolve them (one
        # request per attachment) only where the issue's documents show attachments.
        resolve_media = has_media(record)
        for meta in (issue.get("fields") or {}).get("attachment") or []:
            ref = _attachment(ctx, meta, known, stored)
            if ref is not None:
                if resolve_media:
                    ref["mediaId"] = _media_id(c, ref["id"])
                record["attachments"].append(ref)
                attachment_refs.append({"sha256": ref["sha256"], "size": ref["size"]})
        records.append(record)
        ctx.heartbeat()
    if stored:
        # One statement per page (not one transaction per attachment).
        StoredAttachment.objects.bulk_create(
            [
                StoredAttachment(site_id=ctx.site_pk, attachment_id=k, sha256=v[0], size=v[1])
                for k, v in stored.items()
            ],
            update_conflicts=True,
            unique_fields=["site", "attachment_id"],
            update_fields=["sha256", "size"],
        )
    return records, attachment_refs


def issue_record(
    c: Any,
    issue: dict[str, Any],
    project_id: str,
    changelogs: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """The snapshot record of one search result (without its attachments' bytes)."""
    key = issue["key"]
    fields, comments, worklogs = complete_parts(c, issue)
    changelog = issue.get("changelog") or {}
    histories = changelogs.get(str(issue["id"])) or changelog.get("histories") or []
    return {
        "id": str(issue["id"]),
        "key": key,
        "projectId": project_id,
        "fields": fields,
        "comments": comments,
        "worklogs": worklogs,
        "changelog": sorted(histories, key=lambda h: int(h["id"])),
        "remoteLinks": c.remote_links(key),
        "properties": issue.get("properties") or {},
    }


def complete_parts(
    c: Any, issue: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The issue's fields without Jira's capped inline pages, and its complete comments and
    worklogs (fetched only when the inline page was capped)."""
    key = issue["key"]
    fields = dict(issue.get("fields") or {})
    comment_page = fields.pop("comment", None) or {}
    comments = comment_page.get("comments") or []
    if comment_page.get("total", 0) > len(comments):
        comments = list(c.comments(key))
    worklog_page = fields.pop("worklog", None) or {}
    worklogs = worklog_page.get("worklogs") or []
    if worklog_page.get("total", 0) > len(worklogs):
        worklogs = list(c.worklogs(key))
    return fields, comments, worklogs


def has_media(node: Any) -> bool:
    """True when an ADF document (anywhere in ``node``) holds a ``media`` node."""
    if isinstance(node, dict):
        if node.get("type") == "media":
            return True
        return any(has_media(v) for v in node.values() if isinstance(v, dict | list))
    if isinstance(node, list):
        return any(has_media(v) for v in node)
    return False


def _media_id(c: Any, attachment_id: str) -> str | None:
    try:
        return c.attachment_media_id(attachment_id)
    except ApiNotFound:
        return None


def _known_attachments(site_pk: int, issues: list[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    ids = [str(a["id"]) for i in issues for a in (i.get("fields") or {}).get("attachment") or []]
    rows = StoredAttachment.objects.filter(site_id=site_pk, attachment_id__in=ids)
    return {r.attachment_id: (r.sha256, r.size) for r in rows}


def _attachment(
    ctx: StepContext,
    meta: dict[str, Any],
    known: dict[str, tuple[str, int]],
    stored: dict[str, tuple[str, int]],
) -> dict[str, Any] | None:
    att_id = str(meta["id"])
    ref = {"id": att_id, "filename": meta.get("filename"), "mimeType": meta.get("mimeType")}
    if att_id in known:
        sha, size = known[att_id]
        if ctx.store.size(sha) == size:
            return {**ref, "sha256": sha, "size": size}
    try:
        blob = ctx.store.put_chunks(ctx.client.attachment_content(att_id))
    except ApiNotFound:
        logger.info("attachment %s vanished during the backup; skipped", att_id)
        return None
    stored[att_id] = (blob.sha256, blob.size)
    return {**ref, "sha256": blob.sha256, "size": blob.size}


def project_jql(project_id: str) -> str:
    return f"project = {project_id} ORDER BY id ASC"


def delta_jql(project_id: str, minutes: int) -> str:
    # Relative dates are read the same way whatever the account's time zone.
    return f'project = {project_id} AND updated >= "-{minutes}m" ORDER BY id ASC'


def deletions_step(
    ctx: StepContext,
    *,
    project: dict[str, str],
    expected: list[int],
    seq: int,
    shard_name: str,
    page_size: int,
) -> StepResult:
    """Which expected issues are gone (and any present we did not expect), cheaply.

    Compares ``search/approximate-count`` over the project and then over halves of the id
    range with what we expect; only ranges that disagree are split further, and only small
    ones are listed id by id."""
    c = ctx.client
    pid = project["id"]
    missing, unexpected = gone_and_unexpected(c, pid, expected, ctx.heartbeat)
    result = StepResult()
    records: list[dict[str, Any]] = [{"id": str(i), "_deleted": True} for i in sorted(missing)]
    attachments: list[dict[str, Any]] = []
    if unexpected:
        # Present but unseen by the updated-since query (e.g. eventual consistency): fetch them.
        fetched: list[dict[str, Any]] = []
        ordered = sorted(unexpected)
        for start in range(0, len(ordered), page_size):
            chunk = ordered[start : start + page_size]
            try:
                data = c.bulkfetch_issues(
                    chunk, fields=ISSUE_FIELDS, expand=[ISSUE_EXPAND], properties=ISSUE_PROPERTIES
                )
            except ApiBadRequest:
                continue
            fetched.extend(data.get("issues") or [])
        issue_records, attachments = complete_issues(ctx, fetched, pid)
        records.extend(issue_records)
        result.objects = len(issue_records)
        unexpected = {int(r["id"]) for r in issue_records}
    if records:
        result.add_issue_shards(ctx.store, shard_name, records, attachments, seq)
    result.data.update(deleted=sorted(missing), added=sorted(unexpected))
    return result


def gone_and_unexpected(
    c: Any, pid: str, expected: list[int], heartbeat: Callable[[], None] = lambda: None
) -> tuple[set[int], set[int]]:
    """Which ``expected`` issue ids of the project are gone, and which present ids were not
    expected: ``search/approximate-count`` over the project and then over halves of the id
    range; only ranges that disagree are split further, and only small ones are listed."""
    expected = sorted(set(expected))
    missing: set[int] = set()
    unexpected: set[int] = set()

    def count(extra: str) -> int:
        return c.approximate_count(f"project = {pid}{extra}")

    def list_ids(extra: str) -> set[int]:
        ids: set[int] = set()
        token = None
        while True:
            page = c.search_jql_page(
                f"project = {pid}{extra} ORDER BY id ASC",
                next_page_token=token,
                fields=("id",),
                max_results=ID_PAGE,
            )
            ids.update(int(i["id"]) for i in page.issues)
            if page.is_last or not page.next_page_token:
                return ids
            token = page.next_page_token

    total = count("")
    if total != len(expected):
        if not expected:
            unexpected |= list_ids("")
        else:
            outside = f" AND (id < {expected[0]} OR id > {expected[-1]})"
            stack = [(0, len(expected))]
            inside_total = 0
            while stack:
                lo, hi = stack.pop()
                extra = f" AND id >= {expected[lo]} AND id <= {expected[hi - 1]}"
                n = count(extra)
                if lo == 0 and hi == len(expected):
                    inside_total = n
                if n == hi - lo:
                    continue
                if hi - lo <= DELETION_LEAF:
                    actual = list_ids(extra)
                    segment = set(expected[lo:hi])
                    missing |= segment - actual
                    unexpected |= actual - segment
                    continue
                mid = (lo + hi) // 2
                stack.extend([(mid, hi), (lo, mid)])
                heartbeat()
            if total != inside_total:
                unexpected |= list_ids(outside)
    return missing, unexpected
