"""Jira REST writes (what a restore does). Writes persist: the issue is pinned, so what a
restore wrote can be read back."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import orjson

from sandbox import catalog, content, fieldvalues, generator, hierarchy, structure, workflows
from sandbox.api import ApiError, Ctx, Result
from sandbox.changes import bump, next_sub_id, touch_related
from sandbox.clock import iso
from sandbox.content import pin
from sandbox.jira import component_json
from sandbox.model import BASE, Issue, Site

MAX_PROPERTY_BYTES = 32768
MAX_ATTACHMENTS_PER_REQUEST = 60
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024
MAX_COMMENTS_PER_ISSUE = 5000


_is_adf = fieldvalues.is_adf


# ------------------------------------------------------------------ issues


def build_fields(ctx: Ctx, fields: Any) -> tuple[dict[str, Any], dict[str, str], Any]:
    """Validate create-issue `fields` like Jira; returns (fields, errors, project). Fields the
    sandbox does not know are ignored (Jira would refuse them)."""
    errors: dict[str, str] = {}
    if not isinstance(fields, dict):
        return {}, {"fields": "fields is required"}, None
    project_ref = fields.get("project") or {}
    project = None
    if isinstance(project_ref, dict):
        project = ctx.site.project(project_ref.get("key") or project_ref.get("id") or "")
    if project is None:
        errors["project"] = "Specify a valid project ID or key"
    type_id = catalog.find_by_name(catalog.ISSUE_TYPES, fields.get("issuetype"))
    if type_id is None:
        errors["issuetype"] = "Specify an issue type"
    out: dict[str, Any] = {}

    def take(name: str, value: Any) -> None:
        try:
            out[name] = fieldvalues.resolve(ctx, project, name, value)
        except fieldvalues.FieldError as exc:
            errors[exc.field] = exc.message

    take("summary", fields.get("summary"))
    for name in ("description", "environment", "customfield_10026"):
        take(name, fields.get(name))
    if type_id:
        out["issuetype"] = catalog.issuetype_json(type_id)
    if project is not None:
        out["project"] = content.project_ref(project)
    take("priority", fields.get("priority") or {"id": "3"})
    take("assignee", fields.get("assignee"))
    take("reporter", fields.get("reporter") or {"accountId": ctx.user.account_id})
    take("labels", fields.get("labels") or [])
    take("duedate", fields.get("duedate"))
    for name in ("components", "fixVersions", "versions"):
        take(name, fields.get(name) or [])
    for custom in ctx.site.custom_fields:
        fid = custom["id"]
        if fid in fields and custom["kind"] != "textarea":
            take(fid, fields[fid])
    if type_id and project is not None:
        parent = hierarchy.find_parent(ctx.site, fields.get("parent"))
        if fields.get("parent") and parent is None:
            errors["parent"] = "The parent issue does not exist."
        else:
            problem = hierarchy.check(ctx.site, type_id, project.id, parent)
            if problem == hierarchy.SUBTASK_WITHOUT_PARENT:
                errors["parentId"] = problem
            elif problem:
                errors["parent"] = problem
            elif parent is not None:
                out["parent"] = parent.id  # linked once the issue exists
    return out, errors, project


def _create(ctx: Ctx, payload: Any) -> tuple[Issue | None, dict[str, str], list[str]]:
    if not isinstance(payload, dict):
        return None, {}, ["Request body must be a JSON object."]
    fields, errors, project = build_fields(ctx, payload.get("fields"))
    if errors:
        return None, errors, []
    now = ctx.now
    site = ctx.site
    parent_id = fields.pop("parent", None)
    sprint_id = fields.pop(catalog.SPRINT_FIELD, None)
    with site.lock:
        issue = generator.new_issue(site, project, now, now)
        issue.type_id = fields["issuetype"]["id"]
        issue.status_id = workflows.workflow_of(site, project, issue.type_id).initial
        if parent_id is not None:
            structure.link(site, issue.id, parent_id)
            touch_related(site, issue)
        if "agile" in site.features:
            structure.append_rank(site, issue.id)
            if sprint_id is not None:
                site.issue_sprints[issue.id] = [sprint_id]
            elif issue.type_id == catalog.SUBTASK and parent_id in site.issue_sprints:
                # A sub-task joins its parent's sprint, as in Jira.
                site.issue_sprints[issue.id] = [
                    s for s in site.issue_sprints[parent_id] if site.sprints[s].state != "closed"
                ]
        fields.update(
            {
                "status": catalog.status_json(issue.status_id),
                "creator": ctx.user.json(),
                "created": iso(now),
                "updated": iso(now),
                "resolution": None,
                "resolutiondate": None,
                "timetracking": {},
                "subtasks": [],
                "watches": {
                    "self": f"{BASE}/rest/api/3/issue/{issue.key}/watchers",
                    "watchCount": 0,
                    "isWatching": False,
                },
                "votes": {
                    "self": f"{BASE}/rest/api/3/issue/{issue.key}/votes",
                    "votes": 0,
                    "hasVoted": False,
                },
                "statuscategorychangedate": iso(now),
            }
        )
        for custom in site.custom_fields:
            fields.setdefault(
                custom["id"], [] if custom["kind"] in ("multiselect", "labels") else None
            )
        issue.doc = {
            "fields": fields,
            "comments": [],
            "worklogs": [],
            "histories": [],
            "attachments": [],
            "remotelinks": [],
            "properties": {},
            "next_sub": {},
        }
        for entry in payload.get("properties") or []:
            if isinstance(entry, dict) and "key" in entry:
                issue.doc["properties"][entry["key"]] = entry.get("value")
        site.touch(issue)
    return issue, {}, []


def _created(issue: Issue) -> dict[str, str]:
    return {"id": str(issue.id), "key": issue.key, "self": f"{BASE}/rest/api/3/issue/{issue.id}"}


def create_issue(ctx: Ctx) -> Result:
    issue, errors, messages = _create(ctx, ctx.json())
    if issue is None:
        raise ApiError(400, messages, errors)
    return Result(status=201, body=_created(issue))


def create_issues_bulk(ctx: Ctx) -> Result:
    updates = ctx.body_dict().get("issueUpdates")
    if not isinstance(updates, list) or not updates:
        raise ApiError(400, "issueUpdates must contain at least one issue.")
    if len(updates) > 50:
        raise ApiError(400, "The number of issues to create in bulk must be 50 or fewer.")
    created, failures = [], []
    for index, payload in enumerate(updates):
        issue, errors, messages = _create(ctx, payload)
        if issue is None:
            failures.append(
                {
                    "status": 400,
                    "elementErrors": {"errorMessages": messages, "errors": errors},
                    "failedElementNumber": index,
                }
            )
        else:
            created.append(_created(issue))
    body = {"issues": created, "errors": failures}
    return Result(status=201 if created else 400, body=body)


# ------------------------------------------------------------------ issue parts


def touch_issue(state, site: Site, issue: Issue, rng: random.Random, now: float) -> None:
    """A realistic edit made in Jira itself: new summary, a comment, a changelog entry."""
    with site.lock:
        doc = pin(site, issue)
        old = doc["fields"]["summary"]
        new = generator.sentence(rng, 3, 9)
        doc["fields"]["summary"] = new
        author = rng.choice(
            [state.users[a] for a in sorted(site.members) if a in state.users]
        ).json()
        doc["histories"].append(  # pinned docs always hold their changelog
            {
                "id": str(next_sub_id(site, issue, "history")),
                "author": author,
                "created": iso(now),
                "items": [
                    {
                        "field": "summary",
                        "fieldtype": "jira",
                        "fieldId": "summary",
                        "fromString": old,
                        "toString": new,
                    }
                ],
            }
        )
        cid = next_sub_id(site, issue, "comment")
        doc["comments"].append(
            content.comment_json(issue, cid, author, generator.adf(generator.sentence(rng)), now)
        )
        bump(site, issue, now)


def add_comment(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    body = ctx.body_dict().get("body")
    if not _is_adf(body):
        raise ApiError(400, [], {"comment": "Comment body must be an Atlassian Document."})
    ctx.check_issue_write(issue)
    with ctx.site.lock:
        comment = append_comment(ctx, issue, body)
        bump(ctx.site, issue, ctx.now)
    return Result(status=201, body=comment)


def append_comment(ctx: Ctx, issue: Issue, body: dict) -> dict:
    """Add a comment by the caller (checked by the caller: ADF body, write limits)."""
    doc = pin(ctx.site, issue)
    if len(doc["comments"]) >= MAX_COMMENTS_PER_ISSUE:
        raise ApiError(413, "The issue has reached the limit of 5000 comments.")
    cid = next_sub_id(ctx.site, issue, "comment")
    comment = content.comment_json(issue, cid, ctx.user.json(), body, ctx.now)
    doc["comments"].append(comment)
    return comment


def add_worklog(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    payload = ctx.body_dict()
    seconds = payload.get("timeSpentSeconds")
    if not isinstance(seconds, int) or seconds <= 0:
        raise ApiError(400, [], {"timeLogged": "You must indicate the time spent working."})
    comment = payload.get("comment")
    if comment is not None and not _is_adf(comment):
        raise ApiError(400, [], {"comment": "Comment must be an Atlassian Document."})
    started = ctx.now
    if payload.get("started"):
        try:
            started = datetime.strptime(payload["started"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
        except ValueError as exc:
            raise ApiError(400, [], {"started": "Invalid date format."}) from exc
    ctx.check_issue_write(issue)
    with ctx.site.lock:
        doc = pin(ctx.site, issue)
        wid = next_sub_id(ctx.site, issue, "worklog")
        worklog = content.worklog_json(
            issue, wid, ctx.user.json(), comment, started, ctx.now, seconds
        )
        doc["worklogs"].append(worklog)
        bump(ctx.site, issue, ctx.now)
    return Result(status=201, body=worklog)


def add_remote_link(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    payload = ctx.body_dict()
    obj = payload.get("object")
    if not isinstance(obj, dict) or not obj.get("url") or not obj.get("title"):
        raise ApiError(400, [], {"object": "object.url and object.title are required."})
    ctx.check_issue_write(issue)
    with ctx.site.lock:
        doc = pin(ctx.site, issue)
        existing = next(
            (
                r
                for r in doc["remotelinks"]
                if payload.get("globalId") and r.get("globalId") == payload["globalId"]
            ),
            None,
        )
        if existing is not None:  # Jira updates the link that has the same globalId
            existing.update(
                {k: v for k, v in payload.items() if k in ("application", "relationship", "object")}
            )
            link_id, status = existing["id"], 200
        else:
            link_id = next_sub_id(ctx.site, issue, "remotelink")
            link = {
                "id": link_id,
                "self": f"{BASE}/rest/api/3/issue/{issue.key}/remotelink/{link_id}",
                "object": obj,
            }
            for key in ("globalId", "application", "relationship"):
                if key in payload:
                    link[key] = payload[key]
            doc["remotelinks"].append(link)
            status = 201
        bump(ctx.site, issue, ctx.now)
    return Result(
        status=status,
        body={"id": link_id, "self": f"{BASE}/rest/api/3/issue/{issue.key}/remotelink/{link_id}"},
    )


def set_property(ctx: Ctx, ref: str, prop: str) -> Result:
    issue = ctx.issue(ref)
    raw = ctx.request.get_data()
    if len(raw) > MAX_PROPERTY_BYTES:
        raise ApiError(400, "The property value is too large: the limit is 32768 bytes.")
    if len(prop) > 255:
        raise ApiError(400, "The property key is too long: the limit is 255 characters.")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "The property value must be valid JSON.") from exc
    ctx.check_issue_write(issue)
    with ctx.site.lock:
        doc = pin(ctx.site, issue)
        existed = prop in doc["properties"]
        doc["properties"][prop] = value
        ctx.site.touch(issue)
    return Result(status=200 if existed else 201, body=b"{}")


def add_attachments(ctx: Ctx, ref: str) -> Result:
    if ctx.request.headers.get("X-Atlassian-Token", "").lower() != "no-check":
        # Jira's XSRF check: without the header the request is blocked.
        raise ApiError(403, "XSRF check failed")
    issue = ctx.issue(ref)
    files = ctx.request.files.getlist("file")
    if not files:
        raise ApiError(400, "No attachments were provided: use the multipart part 'file'.")
    if len(files) > MAX_ATTACHMENTS_PER_REQUEST:
        raise ApiError(413, f"At most {MAX_ATTACHMENTS_PER_REQUEST} files per request.")
    ctx.check_issue_write(issue)
    created = []
    with ctx.site.lock:
        doc = pin(ctx.site, issue)
        for upload in files:
            data = upload.read()
            if len(data) > MAX_ATTACHMENT_BYTES:
                raise ApiError(413, "The attachment is larger than the site's limit.")
            att_id = next_sub_id(ctx.site, issue, "attachment")
            ctx.site.uploads[att_id] = data
            meta = content.attachment_json(
                att_id,
                upload.filename or "attachment",
                upload.mimetype or "application/octet-stream",
                len(data),
                ctx.user.json(),
                ctx.now,
            )
            doc["attachments"].append(meta)
            created.append(meta)
        bump(ctx.site, issue, ctx.now)
    return Result(status=200, body=created)


def add_issue_link(ctx: Ctx) -> Result:
    payload = ctx.body_dict()
    type_id = catalog.find_by_name(catalog.LINK_TYPES, payload.get("type"))
    if type_id is None:
        raise ApiError(404, "No issue link type with name or id found.")
    refs = [(payload.get(side) or {}) for side in ("inwardIssue", "outwardIssue")]
    issues = [
        ctx.site.issue(str(r.get("key") or r.get("id") or "")) if isinstance(r, dict) else None
        for r in refs
    ]
    if None in issues:
        raise ApiError(404, "Issue does not exist or you do not have permission to see it.")
    inward, outward = issues
    with ctx.site.lock:
        # Jira's request format is reversed: inwardIssue gets the outward description
        # ({"type": "Blocks", "inwardIssue": A, "outwardIssue": B} means "A blocks B").
        generator.add_link(ctx.site, int(type_id), inward.id, outward.id)
        for issue in issues:
            pin(ctx.site, issue)
            bump(ctx.site, issue, ctx.now)
    return Result(status=201, body=b"{}")


# ------------------------------------------------------------------ project configuration


def create_version(ctx: Ctx) -> Result:
    payload = ctx.body_dict()
    project = ctx.site.project(payload.get("projectId") or payload.get("project") or "")
    if project is None:
        raise ApiError(400, [], {"project": "Project must be specified to create a version."})
    name = payload.get("name")
    if not name:
        raise ApiError(400, [], {"name": "You must specify a valid version name"})
    if any(v["name"] == name for v in project.versions):
        raise ApiError(
            400, [], {"name": "A version with this name already exists in this project."}
        )
    with ctx.site.lock:
        version = generator.add_version(
            ctx.site,
            project,
            name,
            bool(payload.get("released")),
            payload.get("description") or "",
            payload.get("releaseDate"),
        )
        ctx.site.touch()
    return Result(
        status=201, body={"self": f"{BASE}/rest/api/3/version/{version['id']}", **version}
    )


def create_component(ctx: Ctx) -> Result:
    payload = ctx.body_dict()
    project = ctx.site.project(payload.get("project") or payload.get("projectId") or "")
    if project is None:
        raise ApiError(400, [], {"project": "The project is required."})
    name = payload.get("name")
    if not name:
        raise ApiError(400, [], {"name": "The component name specified is invalid."})
    if any(c["name"] == name for c in project.components):
        raise ApiError(
            400, [], {"name": "A component with the name already exists in this project."}
        )
    with ctx.site.lock:
        component = generator.add_component(
            ctx.site,
            project,
            name,
            payload.get("leadAccountId") or "",
            payload.get("description") or "",
        )
        ctx.site.touch()
    return Result(status=201, body=component_json(component, ctx.site))


def create_project(ctx: Ctx) -> Result:
    if not ctx.is_admin:
        raise ApiError(
            403, "You must have global administrator rights in order to create a project."
        )
    payload = ctx.body_dict()
    key, name = payload.get("key"), payload.get("name")
    errors = {}
    if not isinstance(key, str) or not key.isalnum() or not key[:1].isalpha() or key.upper() != key:
        errors["projectKey"] = (
            "Project keys must start with an uppercase letter, followed by one or more uppercase alphanumeric characters."
        )
    elif ctx.site.project(key) is not None:
        errors["projectKey"] = f"Project '{key}' uses this project key."
    if not name:
        errors["projectName"] = "You must specify a valid project name."
    lead = payload.get("leadAccountId") or ctx.user.account_id
    if lead not in ctx.state.users:
        errors["projectLead"] = "The project lead must be a valid user."
    if errors:
        raise ApiError(400, [], errors)
    with ctx.site.lock:
        project = generator.add_project(ctx.site, key, name, lead)
        project.components.clear()
        project.versions.clear()
        project.description = payload.get("description") or ""
        if "agile" in ctx.site.features:
            # A software project made from the scrum template comes with its board.
            structure.add_board(ctx.site, project.id, f"{project.key} board")
        ctx.site.touch()
    return Result(
        status=201,
        body={
            "self": f"{BASE}/rest/api/3/project/{project.id}",
            "id": project.id,
            "key": project.key,
        },
    )
