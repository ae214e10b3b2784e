"""Changing and removing what exists: `PUT issue/{key}` (`fields` and `update` operations),
issue deletion, and reading, editing or deleting one comment, worklog, attachment, issue link,
remote link or property. Every change to an issue counts toward its per-issue write limit,
moves `updated`, and (for fields) is recorded in the changelog with its author."""

from __future__ import annotations

from typing import Any

from sandbox import catalog, fieldvalues, hierarchy, render, structure, workflows
from sandbox.api import ApiError, Ctx, Result
from sandbox.changes import bump, item, record, touch_related
from sandbox.clock import iso
from sandbox.content import headline, issue_doc, pin, plain
from sandbox.fieldvalues import FieldError
from sandbox.model import BASE, Issue, Site, User
from sandbox.parts import find_attachment
from sandbox.writes import append_comment

HEADLINE = frozenset({"summary", "priority", "issuetype"})
UNSET = object()


# ------------------------------------------------------------------ PUT issue/{key}


def edit_issue(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    payload = ctx.body_dict()
    changes, comments, errors = plan_edit(ctx, issue, payload)
    if errors:
        raise ApiError(400, [], errors)
    ctx.check_issue_write(issue)
    with ctx.site.lock:
        apply_edit(ctx.site, issue, changes, ctx.user.json(), ctx.now)
        if comments:
            for body in comments:
                append_comment(ctx, issue, body)
            bump(ctx.site, issue, ctx.now)
    if (ctx.arg("returnIssue") or "").lower() == "true":
        selection = render.FieldSelection(None, default="*all")
        body = render.issue_json(ctx.site, issue, selection, base=ctx.base)
        return Result(status=200, body=body, core=1)
    return Result(status=204, body=None)


def plan_edit(
    ctx: Ctx, issue: Issue, payload: dict
) -> tuple[dict[str, Any], list[dict], dict[str, str]]:
    """Validate an edit without changing anything: ({field: new value}, comments to add,
    errors). `parent` maps to a parent issue id or None."""
    fields = payload.get("fields") or {}
    update = payload.get("update") or {}
    errors: dict[str, str] = {}
    if not isinstance(fields, dict) or not isinstance(update, dict):
        return {}, [], {"fields": "fields and update must be objects."}
    site = ctx.site
    project = site.projects[issue.project_id]
    current = issue_doc(site, issue)["fields"]
    changes: dict[str, Any] = {}
    comments: list[dict] = []

    def value_of(name: str) -> Any:
        if name in changes:
            return changes[name]
        if name == "parent":
            return site.parents.get(issue.id)
        if name == catalog.SPRINT_FIELD:
            return _open_sprint(site, issue)
        return plain(site, current.get(name))

    def set_value(name: str, value: Any) -> None:
        if name == "parent":
            changes["parent"] = _parent(ctx, issue, value)
        elif name == "issuetype":
            changes["issuetype"] = _issue_type(ctx, issue, value)
        else:
            changes[name] = fieldvalues.resolve(ctx, project, name, value)

    operations = [(name, [{"set": value}]) for name, value in fields.items()]
    for name, ops in update.items():
        if name in fields:
            errors[name] = f"Field '{name}' cannot be set in both 'fields' and 'update'."
            continue
        operations.append((name, ops if isinstance(ops, list) else [ops]))
    for name, ops in operations:
        try:
            if name in ("status", "resolution", "resolutiondate", "created", "updated"):
                raise FieldError(name, fieldvalues.NOT_SETTABLE.format(name=name))
            for operation in ops:
                if not isinstance(operation, dict) or len(operation) != 1:
                    raise FieldError(name, "Each operation must have exactly one verb.")
                verb, value = next(iter(operation.items()))
                if name == "comment":
                    comments.append(_comment_body(verb, value))
                elif verb == "set":
                    if name == "parent" and isinstance(value, dict) and value.get("none"):
                        value = None
                    set_value(name, value)
                elif verb in ("add", "remove") and fieldvalues.is_array(site, name):
                    changes[name] = _add_or_remove(ctx, project, name, verb, value, value_of(name))
                else:
                    raise FieldError(name, f"The operation '{verb}' is not supported for {name}.")
        except FieldError as exc:
            errors[exc.field] = exc.message
    return changes, comments, errors


def _comment_body(verb: str, value: Any) -> dict:
    body = value.get("body") if isinstance(value, dict) else None
    if verb != "add" or not fieldvalues.is_adf(body):
        raise FieldError("comment", "Comment body must be an Atlassian Document.")
    return body


def _add_or_remove(
    ctx: Ctx, project: Any, name: str, verb: str, value: Any, current: Any
) -> list[Any]:
    current = list(current or [])
    element = fieldvalues.resolve(ctx, project, name, [value])[0]
    key = _identity(ctx.site, element)
    kept = [v for v in current if _identity(ctx.site, v) != key]
    return [*kept, element] if verb == "add" else kept


def _identity(site: Site, value: Any) -> Any:
    value = plain(site, value)
    return value.get("id") if isinstance(value, dict) else value


def _parent(ctx: Ctx, issue: Issue, ref: Any) -> int | None:
    type_id = hierarchy.type_of(ctx.site, issue)
    parent = hierarchy.find_parent(ctx.site, ref) if ref is not None else None
    if ref is not None and parent is None:
        raise FieldError("parent", "The parent issue does not exist.")
    if parent is not None and parent.id == issue.id:
        raise FieldError("parent", "An issue cannot be its own parent.")
    problem = hierarchy.check(ctx.site, type_id, issue.project_id, parent)
    if problem:
        raise FieldError("parent", problem)
    return parent.id if parent is not None else None


def _issue_type(ctx: Ctx, issue: Issue, ref: Any) -> dict:
    type_id = catalog.find_by_name(catalog.ISSUE_TYPES, ref)
    old = hierarchy.type_of(ctx.site, issue)
    if type_id is None:
        raise FieldError("issuetype", "Specify a valid issue type.")
    if hierarchy.level(type_id) != hierarchy.level(old) or hierarchy.level(type_id) == -1:
        raise FieldError("issuetype", "The issue type can only change within its hierarchy level.")
    project = ctx.site.projects[issue.project_id]
    status = headline(ctx.site, issue)["status"]["id"]
    if status not in workflows.workflow_of(ctx.site, project, type_id).statuses:
        raise FieldError("issuetype", "The issue's status is not in the new type's workflow.")
    return catalog.issuetype_json(type_id)


def _open_sprint(site: Site, issue: Issue) -> int | None:
    for sprint_id in site.issue_sprints.get(issue.id, ()):
        if site.sprints[sprint_id].state != "closed":
            return sprint_id
    return None


def apply_edit(
    site: Site, issue: Issue, changes: dict[str, Any], author: dict | None, now: float
) -> list[str]:
    """Write validated changes; returns the names of the fields that really changed."""
    doc = pin(site, issue)
    fields = doc["fields"]
    items, changed = [], []
    for name, new in changes.items():
        if name == "parent":
            old_id = site.parents.get(issue.id)
            if old_id == new:
                continue
            structure.link(site, issue.id, new)
            items.append(_parent_item(site, old_id, new))
            _touch(site, old_id, new)
        elif name == catalog.SPRINT_FIELD:
            old_id = _open_sprint(site, issue)
            if old_id == new:
                continue
            items.append(_sprint_item(site, issue, new))
            set_open_sprint(site, issue, new)
        else:
            old = plain(site, fields.get(name))
            if old == new:
                continue
            field, fieldtype = fieldvalues.history_name(site, name)
            items.append(
                item(
                    field,
                    name,
                    fieldvalues.display(site, old),
                    fieldvalues.display(site, new),
                    fieldvalues.ident(site, old),
                    fieldvalues.ident(site, new),
                    fieldtype,
                )
            )
            fields[name] = new
            if name == "issuetype":
                issue.type_id = new["id"]
        changed.append(name)
    if changed:
        record(site, issue, author, items, now)
        bump(site, issue, now)
        if HEADLINE & set(changed) or "parent" in changed:
            touch_related(site, issue)
    return changed


def _touch(site: Site, *issue_ids: int | None) -> None:
    for issue_id in issue_ids:
        other = site.issues.get(issue_id) if issue_id is not None else None
        if other is not None:
            other.rev += 1


def _parent_item(site: Site, old_id: int | None, new_id: int | None) -> dict:
    def key(issue_id: int | None) -> str | None:
        return site.issues[issue_id].key if issue_id is not None else None

    return item(
        "IssueParentAssociation",
        "parent",
        key(old_id),
        key(new_id),
        str(old_id) if old_id is not None else None,
        str(new_id) if new_id is not None else None,
    )


def _sprint_item(site: Site, issue: Issue, new: int | None) -> dict:
    before = site.issue_sprints.get(issue.id, [])
    after = [s for s in before if site.sprints[s].state == "closed"] + (
        [new] if new is not None else []
    )

    def names(ids: list[int]) -> str | None:
        return ", ".join(site.sprints[s].name for s in ids) or None

    def numbers(ids: list[int]) -> str | None:
        return ", ".join(str(s) for s in ids) or None

    return item(
        "Sprint",
        catalog.SPRINT_FIELD,
        names(before),
        names(after),
        numbers(before),
        numbers(after),
        "custom",
    )


def set_open_sprint(site: Site, issue: Issue, sprint_id: int | None) -> None:
    """The issue leaves its open sprint for `sprint_id` (None: the backlog); closed sprints
    stay in its history, as Jira keeps them. Its sub-tasks follow."""
    for target in [issue] + [site.issues[c] for c in site.children.get(issue.id, ())]:
        if target is not issue and hierarchy.type_of(site, target) != catalog.SUBTASK:
            continue
        kept = [
            s for s in site.issue_sprints.get(target.id, []) if site.sprints[s].state == "closed"
        ]
        if sprint_id is not None:
            kept.append(sprint_id)
        if kept:
            site.issue_sprints[target.id] = kept
        else:
            site.issue_sprints.pop(target.id, None)
        target.rev += 1
    site.touch()


# ------------------------------------------------------------------ DELETE issue/{key}


def delete_issue(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    subtasks = [
        c
        for c in ctx.site.children.get(issue.id, ())
        if hierarchy.type_of(ctx.site, ctx.site.issues[c]) == catalog.SUBTASK
    ]
    if subtasks and (ctx.arg("deleteSubtasks") or "").lower() != "true":
        raise ApiError(
            400,
            f"The issue '{issue.key}' has subtasks. You must specify the 'deleteSubtasks' "
            "parameter to delete this issue and all its subtasks.",
        )
    ctx.check_issue_write(issue)
    with ctx.site.lock:
        remove_issue(ctx.site, issue)
    return Result(status=204, body=None)


def remove_issue(site: Site, issue: Issue) -> None:
    """Delete the issue and its sub-tasks; its other children lose their parent."""
    for child_id in list(site.children.get(issue.id, ())):
        child = site.issues[child_id]
        if hierarchy.type_of(site, child) == catalog.SUBTASK:
            remove_issue(site, child)
        else:
            structure.link(site, child_id, None)
            child.rev += 1
    touch_related(site, issue)
    structure.link(site, issue.id, None)
    issue.deleted = True
    site.touch(issue)


# ------------------------------------------------------------------ comments and worklogs


def _part(ctx: Ctx, issue: Issue, part: str, raw_id: str, what: str) -> dict:
    for entry in issue_doc(ctx.site, issue)[part]:
        if entry["id"] == raw_id:
            return entry
    raise ApiError(404, f"Can not find a {what} for the id: {raw_id}.")


def get_comment(ctx: Ctx, ref: str, comment_id: str) -> Result:
    comment = _part(ctx, ctx.issue(ref), "comments", comment_id, "comment")
    return Result(body=comment, core=1)


def edit_comment(ctx: Ctx, ref: str, comment_id: str) -> Result:
    issue = ctx.issue(ref)
    _part(ctx, issue, "comments", comment_id, "comment")
    body = ctx.body_dict().get("body")
    if not fieldvalues.is_adf(body):
        raise ApiError(400, [], {"comment": "Comment body must be an Atlassian Document."})
    ctx.check_issue_write(issue)
    with ctx.site.lock:
        comment = _part(ctx, issue, "comments", comment_id, "comment")
        comment = update_comment(ctx.site, issue, comment_id, body, ctx.user, ctx.now)
    return Result(body=comment, core=1)


def update_comment(
    site: Site, issue: Issue, comment_id: str, body: dict, author: User, now: float
) -> dict:
    doc = pin(site, issue)
    for n, comment in enumerate(doc["comments"]):
        if comment["id"] == comment_id:
            updated = {**comment, "body": body, "updateAuthor": author.json(), "updated": iso(now)}
            doc["comments"][n] = updated
            bump(site, issue, now)
            return updated
    raise ApiError(404, f"Can not find a comment for the id: {comment_id}.")


def delete_comment(ctx: Ctx, ref: str, comment_id: str) -> Result:
    issue = ctx.issue(ref)
    _part(ctx, issue, "comments", comment_id, "comment")
    ctx.check_issue_write(issue)
    with ctx.site.lock:
        remove_part(ctx.site, issue, "comments", comment_id, ctx.now)
    return Result(status=204, body=None)


def remove_part(site: Site, issue: Issue, part: str, raw_id: str, now: float) -> bool:
    """Remove one comment, worklog, attachment or remote link; False if it was not there."""
    doc = pin(site, issue)
    kept = [e for e in doc[part] if str(e["id"]) != raw_id]
    if len(kept) == len(doc[part]):
        return False
    doc[part] = kept
    if part == "attachments":
        site.uploads.pop(int(raw_id), None)
    bump(site, issue, now)
    return True


def get_worklog(ctx: Ctx, ref: str, worklog_id: str) -> Result:
    return Result(body=_part(ctx, ctx.issue(ref), "worklogs", worklog_id, "worklog"), core=1)


def delete_worklog(ctx: Ctx, ref: str, worklog_id: str) -> Result:
    issue = ctx.issue(ref)
    _part(ctx, issue, "worklogs", worklog_id, "worklog")
    ctx.check_issue_write(issue)
    with ctx.site.lock:
        remove_part(ctx.site, issue, "worklogs", worklog_id, ctx.now)
    return Result(status=204, body=None)


# ------------------------------------------------------------------ attachments, links


def delete_attachment(ctx: Ctx, raw_id: str) -> Result:
    issue, _attachment = find_attachment(ctx.site, raw_id)
    ctx.check_issue_write(issue)
    with ctx.site.lock:
        remove_part(ctx.site, issue, "attachments", raw_id, ctx.now)
    return Result(status=204, body=None)


def _find_link(site: Site, raw_id: str) -> tuple[int, int, int]:
    """(link type id, outward issue id, inward issue id) of an issue link."""
    if raw_id.isdigit():
        for issue_id, entries in site.links.items():
            for link_id, type_id, direction, other_id in entries:
                if link_id == int(raw_id) and direction == "outward":
                    return type_id, issue_id, other_id
    raise ApiError(404, f"No issue link with id '{raw_id}' exists.")


def get_issue_link(ctx: Ctx, raw_id: str) -> Result:
    type_id, outward_id, inward_id = _find_link(ctx.site, raw_id)
    outward, inward = ctx.site.issues[outward_id], ctx.site.issues[inward_id]
    if outward.deleted or inward.deleted:
        raise ApiError(404, f"No issue link with id '{raw_id}' exists.")
    body = {
        "id": raw_id,
        "self": f"{BASE}/rest/api/3/issueLink/{raw_id}",
        "type": catalog.link_type_json(str(type_id)),
        # "A blocks B": A is the link's inward issue in Jira's request and response format.
        "inwardIssue": render.issue_ref(ctx.site, outward),
        "outwardIssue": render.issue_ref(ctx.site, inward),
    }
    return Result(body=body, core=1)


def delete_issue_link(ctx: Ctx, raw_id: str) -> Result:
    _type_id, outward_id, inward_id = _find_link(ctx.site, raw_id)
    issues = [ctx.site.issues[outward_id], ctx.site.issues[inward_id]]
    for issue in issues:
        ctx.check_issue_write(issue)
    with ctx.site.lock:
        for issue in issues:
            ctx.site.links[issue.id] = [
                e for e in ctx.site.links.get(issue.id, []) if e[0] != int(raw_id)
            ]
            pin(ctx.site, issue)
            bump(ctx.site, issue, ctx.now)
    return Result(status=204, body=None)


def _remote_link(ctx: Ctx, issue: Issue, raw_id: str) -> dict:
    for link in issue_doc(ctx.site, issue)["remotelinks"]:
        if str(link["id"]) == raw_id:
            return link
    raise ApiError(404, f"No remote link with id '{raw_id}' exists on {issue.key}.")


def get_remote_link(ctx: Ctx, ref: str, link_id: str) -> Result:
    return Result(body=_remote_link(ctx, ctx.issue(ref), link_id), core=1)


def delete_remote_link(ctx: Ctx, ref: str, link_id: str) -> Result:
    issue = ctx.issue(ref)
    _remote_link(ctx, issue, link_id)
    ctx.check_issue_write(issue)
    with ctx.site.lock:
        remove_part(ctx.site, issue, "remotelinks", link_id, ctx.now)
    return Result(status=204, body=None)


def delete_property(ctx: Ctx, ref: str, prop: str) -> Result:
    issue = ctx.issue(ref)
    if prop not in issue_doc(ctx.site, issue)["properties"]:
        raise ApiError(404, f"The property with key '{prop}' does not exist.")
    ctx.check_issue_write(issue)
    with ctx.site.lock:
        pin(ctx.site, issue)["properties"].pop(prop, None)
        ctx.site.touch(issue)
    return Result(status=204, body=None)
