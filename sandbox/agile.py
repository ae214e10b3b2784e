"""Jira Software's REST API (`/rest/agile/1.0/...`): boards, their configuration, sprints and
their issues, the backlog, epics and rank. Same credentials, points and burst limits as the
platform API, but only Jira Software's granular scopes open it (see server.AGILE_ROUTES).

Only sites generated with the "agile" feature have Jira Software data (boards, sprints, the
Rank and Sprint fields); on other sites the lists are empty and writes answer 400/404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox import catalog, hierarchy, jql, render, structure, workflows
from sandbox.api import ApiError, Ctx, Result
from sandbox.clock import iso_ms_z
from sandbox.content import headline
from sandbox.edits import set_open_sprint
from sandbox.model import BASE, Board, Issue, Site, Sprint

AGILE = "/rest/agile/1.0"
MAX_ISSUES_PER_MOVE = 50


# ------------------------------------------------------------------ JSON


def board_json(site: Site, board: Board) -> dict[str, Any]:
    project = site.projects[board.project_id]
    return {
        "id": board.id,
        "self": f"{BASE}{AGILE}/board/{board.id}",
        "name": board.name,
        "type": board.type,
        "location": {
            "projectId": project.id,
            "displayName": f"{project.name} ({project.key})",
            "projectName": project.name,
            "projectKey": project.key,
            "projectTypeKey": project.project_type,
            "avatarURI": f"{BASE}/avatar/project/{project.id}?s=xsmall",
            "name": f"{project.name} ({project.key})",
        },
        "isPrivate": False,
    }


def sprint_json(sprint: Sprint) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": sprint.id,
        "self": f"{BASE}{AGILE}/sprint/{sprint.id}",
        "state": sprint.state,
        "name": sprint.name,
    }
    for key, value in (
        ("startDate", sprint.start),
        ("endDate", sprint.end),
        ("completeDate", sprint.complete),
        ("createdDate", sprint.created),
    ):
        if value is not None:
            data[key] = iso_ms_z(value)
    data.update(originBoardId=sprint.board_id, goal=sprint.goal)
    return data


def _page(values: list, start: int, size: int, total: bool = True) -> dict[str, Any]:
    chunk = values[start : start + size]
    page: dict[str, Any] = {
        "maxResults": size,
        "startAt": start,
        "isLast": start + len(chunk) >= len(values),
        "values": chunk,
    }
    if total:
        page["total"] = len(values)
    return page


def _paging(ctx: Ctx, default: int = 50) -> tuple[int, int]:
    return ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", default, maximum=100, minimum=1)


# ------------------------------------------------------------------ lookups


def _board(ctx: Ctx, raw: str) -> Board:
    board = ctx.site.boards.get(int(raw)) if raw.isdigit() else None
    if board is None:
        raise ApiError(404, "Board does not exist or you do not have permission to see it.")
    return board


def _sprint(ctx: Ctx, raw: str) -> Sprint:
    sprint = ctx.site.sprints.get(int(raw)) if raw.isdigit() else None
    if sprint is None:
        raise ApiError(
            404, f"Sprint with id {raw} does not exist or you do not have permission to see it."
        )
    return sprint


def _ranked(site: Site, issues: list[Issue]) -> list[Issue]:
    ranks = site.ranks
    return sorted(issues, key=lambda i: (ranks.get(i.id, "~"), i.id))


def _issues_page(ctx: Ctx, issues: list[Issue]) -> Result:
    """Jira Software's issue list: rank order, `jql` to narrow it, agile fields added."""
    text = ctx.arg("jql")
    if text:
        try:
            query = jql.parse(text, ctx.site, ctx.now, lambda i: render.issue_doc(ctx.site, i))
        except jql.JqlError as exc:
            raise ApiError(400, str(exc)) from exc
        issues = [i for i in issues if query.predicate(i)]
    issues = _ranked(ctx.site, issues)
    start, size = _paging(ctx)
    raw_fields = ctx.request.args.getlist("fields") or None
    selection = render.FieldSelection(raw_fields, default="*navigable")
    chunk = issues[start : start + size]
    values = [_agile_issue(ctx, issue, selection) for issue in chunk]
    body = {
        "expand": "schema,names",
        "startAt": start,
        "maxResults": size,
        "total": len(issues),
        "issues": values,
    }
    return Result(body=body, core=len(values))


def _agile_issue(ctx: Ctx, issue: Issue, selection: render.FieldSelection) -> dict[str, Any]:
    data = render.issue_json(ctx.site, issue, selection)
    fields = data["fields"]
    site = ctx.site
    sprints = [site.sprints[s] for s in site.issue_sprints.get(issue.id, ())]
    extra: dict[str, Any] = {
        "sprint": next((sprint_json(s) for s in sprints if s.state != "closed"), None),
        "closedSprints": [sprint_json(s) for s in sprints if s.state == "closed"],
        "flagged": False,
        "epic": _epic_of(site, issue),
    }
    for name, value in extra.items():
        if selection.wants(name):
            fields[name] = value
    return data


def _epic_of(site: Site, issue: Issue) -> dict[str, Any] | None:
    parent = site.issues.get(site.parents.get(issue.id, -1))
    if parent is None or parent.deleted or hierarchy.type_of(site, parent) != catalog.EPIC:
        return None
    return epic_json(site, parent)


def epic_json(site: Site, epic: Issue) -> dict[str, Any]:
    head = headline(site, epic)
    return {
        "id": epic.id,
        "key": epic.key,
        "self": f"{BASE}{AGILE}/epic/{epic.id}",
        "name": head["summary"],
        "summary": head["summary"],
        "color": {"key": f"color_{epic.id % 14 + 1}"},
        "done": catalog.STATUS_CATEGORY[head["status"]["id"]] == "done",
    }


def _board_issues(site: Site, board: Board) -> list[Issue]:
    """What a scrum board shows: its project's issues except epics."""
    return [
        i
        for i in site.live_issues()
        if i.project_id == board.project_id and hierarchy.type_of(site, i) != catalog.EPIC
    ]


def _open_sprint(site: Site, issue: Issue) -> Sprint | None:
    for sprint_id in site.issue_sprints.get(issue.id, ()):
        if site.sprints[sprint_id].state != "closed":
            return site.sprints[sprint_id]
    return None


# ------------------------------------------------------------------ boards


def boards(ctx: Ctx) -> Result:
    values = list(ctx.site.boards.values())
    ref = ctx.arg("projectKeyOrId")
    if ref:
        project = ctx.site.project(ref)
        if project is None:
            raise ApiError(400, f"No project could be found with key or id '{ref}'.")
        values = [b for b in values if b.project_id == project.id]
    name = (ctx.arg("name") or "").lower()
    if name:
        values = [b for b in values if name in b.name.lower()]
    kind = ctx.arg("type")
    if kind:
        values = [b for b in values if b.type in kind.split(",")]
    start, size = _paging(ctx)
    page = _page([board_json(ctx.site, b) for b in values], start, size)
    return Result(body=page, core=len(page["values"]))


def board(ctx: Ctx, board_id: str) -> Result:
    return Result(body=board_json(ctx.site, _board(ctx, board_id)), core=1)


def board_configuration(ctx: Ctx, board_id: str) -> Result:
    found = _board(ctx, board_id)
    project = ctx.site.projects[found.project_id]
    statuses = workflows.workflow_of(ctx.site, project, catalog.STANDARD_TYPES[0]).statuses
    columns = []
    for name, members in (
        ("To Do", (workflows.TODO,)),
        ("In Progress", (workflows.IN_PROGRESS, workflows.BLOCKED)),
        ("In Review", (workflows.IN_REVIEW,)),
        ("Done", (workflows.DONE,)),
    ):
        mapped = [s for s in members if s in statuses]
        columns.append(
            {
                "name": name,
                "statuses": [{"id": s, "self": f"{BASE}/rest/api/2/status/{s}"} for s in mapped],
            }
        )
    body = {
        "id": found.id,
        "name": found.name,
        "type": found.type,
        "self": f"{BASE}{AGILE}/board/{found.id}/configuration",
        "location": {"type": "project", "projectKeyOrId": str(project.id)},
        "filter": {
            "id": str(found.filter_id),
            "self": f"{BASE}/rest/api/2/filter/{found.filter_id}",
        },
        "columnConfig": {"columns": columns, "constraintType": "none"},
        "estimation": {
            "type": "field",
            "field": {"fieldId": "customfield_10022", "displayName": "Story Points"},
        },
        "ranking": {"rankCustomFieldId": int(catalog.RANK_FIELD.split("_")[1])},
    }
    return Result(body=body, core=1)


def board_sprints(ctx: Ctx, board_id: str) -> Result:
    found = _board(ctx, board_id)
    states = {s.strip() for s in (ctx.arg("state") or "").split(",") if s.strip()}
    unknown = states - {"future", "active", "closed"}
    if unknown:
        raise ApiError(400, f"Invalid sprint state: {', '.join(sorted(unknown))}.")
    values = [
        sprint_json(s)
        for s in ctx.site.sprints.values()
        if s.board_id == found.id and (not states or s.state in states)
    ]
    start, size = _paging(ctx)
    page = _page(values, start, size, total=False)
    return Result(body=page, core=len(page["values"]))


def board_issues(ctx: Ctx, board_id: str) -> Result:
    return _issues_page(ctx, _board_issues(ctx.site, _board(ctx, board_id)))


def board_backlog(ctx: Ctx, board_id: str) -> Result:
    site = ctx.site
    backlog = [
        i
        for i in _board_issues(site, _board(ctx, board_id))
        if _open_sprint(site, i) is None
        and catalog.STATUS_CATEGORY[headline(site, i)["status"]["id"]] != "done"
    ]
    return _issues_page(ctx, backlog)


def board_epics(ctx: Ctx, board_id: str) -> Result:
    found = _board(ctx, board_id)
    site = ctx.site
    epics = [
        i
        for i in site.live_issues()
        if i.project_id == found.project_id and hierarchy.type_of(site, i) == catalog.EPIC
    ]
    values = [epic_json(site, e) for e in epics]
    done = ctx.arg("done")
    if done in ("true", "false"):
        values = [v for v in values if v["done"] == (done == "true")]
    start, size = _paging(ctx)
    page = _page(values, start, size, total=False)
    return Result(body=page, core=len(page["values"]))


def epic(ctx: Ctx, ref: str) -> Result:
    found = ctx.site.issue(ref)
    if found is None or hierarchy.type_of(ctx.site, found) != catalog.EPIC:
        raise ApiError(404, f"Epic {ref} does not exist or you do not have permission to see it.")
    return Result(body=epic_json(ctx.site, found), core=1)


def epic_issues(ctx: Ctx, ref: str) -> Result:
    epic(ctx, ref)
    found = ctx.site.issue(ref)
    children = [ctx.site.issues[c] for c in ctx.site.children.get(found.id, ())]
    return _issues_page(ctx, [c for c in children if not c.deleted])


# ------------------------------------------------------------------ sprints


def sprint(ctx: Ctx, sprint_id: str) -> Result:
    return Result(body=sprint_json(_sprint(ctx, sprint_id)), core=1)


def _date(value: Any, name: str) -> float | None:
    if value in (None, ""):
        return None
    text = str(value).replace("Z", "+00:00")
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"):
        try:
            return datetime.strptime(text, fmt).timestamp()
        except ValueError:
            continue
    raise ApiError(400, [], {name: f"'{value}' is not a valid date (use ISO 8601)."})


def create_sprint(ctx: Ctx) -> Result:
    payload = ctx.body_dict()
    name = str(payload.get("name") or "").strip()
    errors = {}
    if not name:
        errors["name"] = "The sprint name must not be empty."
    elif len(name) > 255:
        errors["name"] = "The sprint name must be shorter than 255 characters."
    raw_board = payload.get("originBoardId")
    found = ctx.site.boards.get(raw_board) if isinstance(raw_board, int) else None
    if found is None:
        errors["originBoardId"] = "The origin board must be given and must exist."
    if errors:
        raise ApiError(400, [], errors)
    start, end = (
        _date(payload.get("startDate"), "startDate"),
        _date(payload.get("endDate"), "endDate"),
    )
    with ctx.site.lock:
        created = structure.add_sprint(
            ctx.site,
            found,
            name,
            start=start,
            end=end,
            created=ctx.now,
            goal=str(payload.get("goal") or ""),
        )
        ctx.site.touch()
    return Result(status=201, body=sprint_json(created))


def update_sprint(ctx: Ctx, sprint_id: str) -> Result:
    """POST: a partial update; PUT: the same with every field given (Jira's full update)."""
    found = _sprint(ctx, sprint_id)
    payload = ctx.body_dict()
    if found.state == "closed":
        raise ApiError(400, "A closed sprint cannot be updated.")
    state = payload.get("state", found.state)
    start = _date(payload["startDate"], "startDate") if "startDate" in payload else found.start
    end = _date(payload["endDate"], "endDate") if "endDate" in payload else found.end
    name = str(payload.get("name", found.name)).strip()
    if not name:
        raise ApiError(400, [], {"name": "The sprint name must not be empty."})
    if state not in ("future", "active", "closed"):
        raise ApiError(400, [], {"state": f"Invalid sprint state: {state}."})
    if (found.state, state) not in (
        ("future", "future"),
        ("future", "active"),
        ("active", "active"),
        ("active", "closed"),
    ):
        raise ApiError(400, f"A sprint cannot go from {found.state} to {state}.")
    if state == "active" and found.state == "future":
        if start is None or end is None:
            raise ApiError(400, "A sprint needs a start and an end date to be started.")
        if any(
            s.board_id == found.board_id and s.state == "active" for s in ctx.site.sprints.values()
        ):
            raise ApiError(
                400, "The board already has an active sprint (parallel sprints are off)."
            )
    with ctx.site.lock:
        found.name, found.start, found.end = name, start, end
        if "goal" in payload:
            found.goal = str(payload.get("goal") or "")
        if state == "closed" and found.state == "active":
            found.complete = ctx.now
        found.state = state
        for issue_id, sprint_ids in ctx.site.issue_sprints.items():
            if found.id in sprint_ids:
                ctx.site.issues[issue_id].rev += 1
        ctx.site.touch()
    return Result(body=sprint_json(found))


def sprint_issues(ctx: Ctx, sprint_id: str) -> Result:
    found = _sprint(ctx, sprint_id)
    site = ctx.site
    members = [
        site.issues[i]
        for i, sprint_ids in site.issue_sprints.items()
        if found.id in sprint_ids and not site.issues[i].deleted
    ]
    return _issues_page(ctx, members)


def _moving(ctx: Ctx, payload: dict) -> list[Issue]:
    refs = payload.get("issues")
    if not isinstance(refs, list) or not refs:
        raise ApiError(400, [], {"issues": "At least one issue must be given."})
    if len(refs) > MAX_ISSUES_PER_MOVE:
        raise ApiError(
            400, [], {"issues": f"At most {MAX_ISSUES_PER_MOVE} issues can be moved at once."}
        )
    found = []
    for ref in refs:
        issue = ctx.site.issue(str(ref))
        if issue is None:
            raise ApiError(
                404, f"Issue {ref} does not exist or you do not have permission to see it."
            )
        found.append(issue)
    return found


def move_to_sprint(ctx: Ctx, sprint_id: str) -> Result:
    found = _sprint(ctx, sprint_id)
    payload = ctx.body_dict()
    if found.state == "closed":
        raise ApiError(400, "Issues can only be moved to future or active sprints.")
    issues = _moving(ctx, payload)
    if any(hierarchy.type_of(ctx.site, i) == catalog.SUBTASK for i in issues):
        raise ApiError(
            400, "Sub-tasks move with their parent and cannot be moved to a sprint alone."
        )
    _check_rank_target(ctx, payload, issues)
    for issue in issues:
        ctx.check_issue_write(issue)
    with ctx.site.lock:
        for issue in issues:
            set_open_sprint(ctx.site, issue, found.id)
        _rank(ctx, payload, issues)
    return Result(status=204, body=None)


def move_to_backlog(ctx: Ctx) -> Result:
    issues = _moving(ctx, ctx.body_dict())
    for issue in issues:
        ctx.check_issue_write(issue)
    with ctx.site.lock:
        for issue in issues:
            set_open_sprint(ctx.site, issue, None)
    return Result(status=204, body=None)


# ------------------------------------------------------------------ rank


def _check_rank_target(ctx: Ctx, payload: dict, issues: list[Issue]) -> Issue | None:
    before, after = payload.get("rankBeforeIssue"), payload.get("rankAfterIssue")
    if before and after:
        raise ApiError(400, "Give either rankBeforeIssue or rankAfterIssue, not both.")
    ref = before or after
    if not ref:
        return None
    if "agile" not in ctx.site.features:
        raise ApiError(400, "The Rank field is not configured on this site.")
    target = ctx.site.issue(str(ref))
    if target is None:
        raise ApiError(404, f"Issue {ref} does not exist or you do not have permission to see it.")
    if target.id in {i.id for i in issues}:
        raise ApiError(400, "An issue cannot be ranked relative to itself.")
    return target


def _rank(ctx: Ctx, payload: dict, issues: list[Issue]) -> None:
    target = _check_rank_target(ctx, payload, issues)
    if target is None:
        return
    moving = [i.id for i in issues]
    if payload.get("rankBeforeIssue"):
        structure.place(ctx.site, moving, before=target.id)
    else:
        structure.place(ctx.site, moving, after=target.id)
    for issue in issues:
        issue.rev += 1
    ctx.site.touch()


def rank_issues(ctx: Ctx) -> Result:
    payload = ctx.body_dict()
    issues = _moving(ctx, payload)
    if not (payload.get("rankBeforeIssue") or payload.get("rankAfterIssue")):
        raise ApiError(400, "rankBeforeIssue or rankAfterIssue must be given.")
    field_id = payload.get("rankCustomFieldId")
    if field_id is not None and f"customfield_{field_id}" != catalog.RANK_FIELD:
        raise ApiError(400, f"Custom field {field_id} is not a rank field.")
    _check_rank_target(ctx, payload, issues)
    for issue in issues:
        ctx.check_issue_write(issue)
    with ctx.site.lock:
        _rank(ctx, payload, issues)
    return Result(status=204, body=None)
