"""Workflows: which statuses an issue can be in, by project and issue type, and the transitions
between them (`GET/POST issue/{key}/transitions`, `workflows/search`, workflow schemes).

Classic sites have one workflow where every status can be reached from every other (Jira's
simplified workflow). Sites generated with the "workflows" feature have a software workflow
(To Do → In Progress → In Review → Done, plus Blocked), a simpler one for epics and sub-tasks,
and a kanban workflow without Blocked that their second project uses, so that a restore can
meet a status its target cannot reach. Transitions into a done status show a screen on which
`resolution` is required; transitions out of one clear the resolution.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from sandbox import catalog, config
from sandbox.api import ApiError, Ctx, Result, offset_page
from sandbox.changes import bump, item, record, touch_related
from sandbox.clock import iso
from sandbox.content import headline, pin
from sandbox.model import BASE, Issue, Project, Site

RESOLVE_SCREEN = "3"  # Jira's "Resolve Issue Screen"
TODO, IN_PROGRESS, IN_REVIEW, DONE, BLOCKED = "10000", "3", "10001", "10002", "10003"
# Where workflows and schemes were "created" (before every generated timestamp).
CREATED = "2024-01-01T00:00:00.000+0000"


@dataclass(frozen=True)
class Transition:
    id: str
    name: str
    to: str
    sources: tuple[str, ...] = ()  # empty: a global transition (from every other status)

    @property
    def is_global(self) -> bool:
        return not self.sources

    def available_from(self, status_id: str) -> bool:
        return status_id != self.to and (self.is_global or status_id in self.sources)

    @property
    def has_screen(self) -> bool:
        return catalog.STATUS_CATEGORY[self.to] == "done"


@dataclass(frozen=True)
class Workflow:
    name: str
    description: str
    statuses: tuple[str, ...]
    transitions: tuple[Transition, ...]
    initial: str = TODO
    version: int = 1
    updated: str = CREATED

    @property
    def id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-workflow/{self.name}"))

    def available(self, status_id: str) -> list[Transition]:
        return [t for t in self.transitions if t.available_from(status_id)]


CLASSIC = Workflow(
    "Sandbox classic workflow",
    "Every status can be reached from every other one.",
    (TODO, IN_PROGRESS, IN_REVIEW, DONE),
    (
        Transition("11", "To Do", TODO),
        Transition("21", "In Progress", IN_PROGRESS),
        Transition("31", "In Review", IN_REVIEW),
        Transition("41", "Done", DONE),
    ),
)
SOFTWARE = Workflow(
    "Software workflow",
    "Development with review; work can be blocked.",
    (TODO, IN_PROGRESS, IN_REVIEW, DONE, BLOCKED),
    (
        Transition("11", "Start progress", IN_PROGRESS, (TODO,)),
        Transition("21", "Request review", IN_REVIEW, (IN_PROGRESS,)),
        Transition("31", "Request changes", IN_PROGRESS, (IN_REVIEW,)),
        Transition("41", "Approve", DONE, (IN_REVIEW,)),
        Transition("51", "Block", BLOCKED, (TODO, IN_PROGRESS)),
        Transition("61", "Unblock", IN_PROGRESS, (BLOCKED,)),
        Transition("71", "Stop progress", TODO, (IN_PROGRESS,)),
        Transition("81", "Reopen", TODO, (DONE,)),
        Transition("91", "Won't do", DONE, (TODO, BLOCKED)),
    ),
)
KANBAN = Workflow(
    "Kanban workflow",
    "Development with review, without a Blocked status.",
    (TODO, IN_PROGRESS, IN_REVIEW, DONE),
    (
        Transition("11", "Start progress", IN_PROGRESS, (TODO,)),
        Transition("21", "Request review", IN_REVIEW, (IN_PROGRESS,)),
        Transition("31", "Request changes", IN_PROGRESS, (IN_REVIEW,)),
        Transition("41", "Approve", DONE, (IN_REVIEW,)),
        Transition("71", "Stop progress", TODO, (IN_PROGRESS,)),
        Transition("81", "Reopen", TODO, (DONE,)),
    ),
)
SIMPLE = Workflow(
    "Simple workflow",
    "For epics and sub-tasks.",
    (TODO, IN_PROGRESS, DONE),
    (
        Transition("11", "Start", IN_PROGRESS, (TODO,)),
        Transition("21", "Finish", DONE, (IN_PROGRESS,)),
        Transition("31", "Stop", TODO, (IN_PROGRESS,)),
        Transition("41", "Reopen", TODO, (DONE,)),
    ),
)
WORKFLOWS = {w.name: w for w in (CLASSIC, SOFTWARE, KANBAN, SIMPLE)}


@dataclass(frozen=True)
class Scheme:
    id: int
    name: str
    description: str
    default: str  # workflow name
    mappings: tuple[tuple[str, str], ...] = ()  # (issue type id, workflow name)

    def workflow_for(self, type_id: str) -> Workflow:
        return WORKFLOWS[dict(self.mappings).get(type_id, self.default)]


HIERARCHY_MAPPINGS = ((catalog.EPIC, SIMPLE.name), (catalog.SUBTASK, SIMPLE.name))
CLASSIC_SCHEME = Scheme(10000, "Default Workflow Scheme", "Every project's default.", CLASSIC.name)
SOFTWARE_SCHEME = Scheme(
    10100, "Software workflow scheme", "Scrum projects.", SOFTWARE.name, HIERARCHY_MAPPINGS
)
KANBAN_SCHEME = Scheme(
    10101, "Kanban workflow scheme", "Projects without Blocked.", KANBAN.name, HIERARCHY_MAPPINGS
)


# ------------------------------------------------------------------ lookups


def schemes(site: Site) -> list[Scheme]:
    if "workflows" in site.features:
        return [CLASSIC_SCHEME, SOFTWARE_SCHEME, KANBAN_SCHEME]
    return [CLASSIC_SCHEME]


def default_scheme(site: Site) -> Scheme:
    return SOFTWARE_SCHEME if "workflows" in site.features else CLASSIC_SCHEME


def scheme_of(site: Site, project: Project) -> Scheme:
    wanted = project.schemes.get("workflow")
    for scheme in schemes(site):
        if str(scheme.id) == wanted:
            return scheme
    return default_scheme(site)


def workflow_of(site: Site, project: Project, type_id: str) -> Workflow:
    return edited(site, scheme_of(site, project).workflow_for(type_id))


def edited(site: Site, workflow: Workflow) -> Workflow:
    """The site's version of a workflow: as an administrator last edited it, if ever."""
    return config.of(site).workflows.get(workflow.name, workflow)


def edit_workflow(
    site: Site,
    name: str,
    *,
    remove: list[str] | None = None,
    add: list[dict[str, Any]] | None = None,
    now: float,
) -> Workflow:
    """What an administrator does in Jira's workflow editor and publishes: transitions removed
    (by id) and added (``{"id", "name", "to", "from": [status ids]}``; no ``from``: global).
    The workflow keeps its id and gets the next version."""
    if name not in {w.name for w in site_workflows(site)}:
        raise ValueError(f"the site has no workflow named {name!r}")
    current = edited(site, WORKFLOWS[name])
    removed = {str(t) for t in remove or []}
    unknown = removed - {t.id for t in current.transitions}
    if unknown:
        raise ValueError(f"no transition {sorted(unknown)} in {name!r}")
    transitions = [t for t in current.transitions if t.id not in removed]
    for spec in add or []:
        to, sources = str(spec["to"]), tuple(str(s) for s in spec.get("from") or ())
        if to not in current.statuses or any(s not in current.statuses for s in sources):
            raise ValueError(f"a transition of {name!r} must join its statuses")
        transitions.append(Transition(str(spec["id"]), str(spec["name"]), to, sources))
    with site.lock:
        changed = replace(
            current,
            transitions=tuple(transitions),
            version=current.version + 1,
            updated=iso(now),
        )
        config.of(site).workflows[name] = changed
        site.touch()
    return changed


def site_statuses(site: Site) -> list[tuple[str, str, str]]:
    """Every status of the site (what `statuses/search` lists)."""
    return catalog.ALL_STATUSES if "workflows" in site.features else catalog.STATUSES


def active_workflows(site: Site) -> list[Workflow]:
    names = {scheme_of(site, p).default for p in site.projects.values()}
    for project in site.projects.values():
        names.update(name for _t, name in scheme_of(site, project).mappings)
    return [edited(site, w) for w in WORKFLOWS.values() if w.name in names]


def site_workflows(site: Site) -> list[Workflow]:
    if "workflows" in site.features:
        return [edited(site, w) for w in (CLASSIC, SOFTWARE, KANBAN, SIMPLE)]
    return [edited(site, CLASSIC)]


def shortest_path(workflow: Workflow, start: str, goal: str) -> list[Transition] | None:
    """Breadth-first: the fewest transitions from `start` to `goal` (None: unreachable)."""
    paths: dict[str, list[Transition]] = {start: []}
    frontier = [start]
    while frontier:
        following = []
        for status in frontier:
            for transition in workflow.available(status):
                if transition.to not in paths:
                    paths[transition.to] = paths[status] + [transition]
                    following.append(transition.to)
        frontier = following
    return paths.get(goal)


def _issue_ids(site: Site, issue: Issue) -> tuple[Project, str, str]:
    head = headline(site, issue)
    return site.projects[issue.project_id], head["issuetype"]["id"], head["status"]["id"]


# ------------------------------------------------------------------ JSON


def site_resolutions(site: Site) -> list[dict]:
    return catalog.RESOLUTIONS if "workflows" in site.features else catalog.RESOLUTIONS[:1]


def find_resolution(site: Site, value: Any) -> dict | None:
    """A `{"id"}` or `{"name"}` reference to one of the site's resolutions."""
    if not isinstance(value, dict):
        return None
    for resolution in site_resolutions(site):
        if str(value.get("id")) == resolution["id"] or value.get("name") == resolution["name"]:
            return resolution
    return None


def resolution_field(site: Site) -> dict[str, Any]:
    data: dict[str, Any] = {
        "required": True,
        "schema": {"type": "resolution", "system": "resolution"},
        "name": "Resolution",
        "key": "resolution",
        "operations": ["set"],
        "hasDefaultValue": False,
        "allowedValues": [catalog.resolution_json(r) for r in site_resolutions(site)],
    }
    return data


def transition_json(site: Site, transition: Transition, with_fields: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": transition.id,
        "name": transition.name,
        "to": catalog.status_json(transition.to),
        "hasScreen": transition.has_screen,
        "isGlobal": transition.is_global,
        "isInitial": False,
        "isAvailable": True,
        "isConditional": False,
        "looped": False,
    }
    if with_fields:
        screen = transition.has_screen
        data["fields"] = {"resolution": resolution_field(site)} if screen else {}
    return data


def status_search_json(status_id: str) -> dict[str, Any]:
    categories = {"new": "TODO", "indeterminate": "IN_PROGRESS", "done": "DONE"}
    name = next(n for sid, n, _c in catalog.ALL_STATUSES if sid == status_id)
    return {
        "id": status_id,
        "name": name,
        "statusCategory": categories[catalog.STATUS_CATEGORY[status_id]],
        "scope": {"type": "GLOBAL"},
        "description": "",
    }


def workflow_json(workflow: Workflow, transitions: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": workflow.id,
        "name": workflow.name,
        "description": workflow.description,
        "scope": {"type": "GLOBAL"},
        "isEditable": workflow.name != CLASSIC.name,
        "version": {
            "id": str(
                uuid.uuid5(
                    uuid.NAMESPACE_URL,
                    workflow.id if workflow.version == 1 else f"{workflow.id}/{workflow.version}",
                )
            ),
            "versionNumber": workflow.version,
        },
        "created": CREATED,
        "updated": workflow.updated,
        "startPointLayout": {"x": -100.0, "y": -150.0},
        "statuses": [
            {
                "statusReference": sid,
                "deprecated": False,
                "layout": {"x": 120.0 * n, "y": 0.0},
                "properties": {},
            }
            for n, sid in enumerate(workflow.statuses)
        ],
    }
    if transitions:
        data["transitions"] = [_initial(workflow)] + [
            _transition_definition(t) for t in workflow.transitions
        ]
    return data


def _initial(workflow: Workflow) -> dict[str, Any]:
    return {
        "id": "1",
        "name": "Create",
        "description": "",
        "type": "INITIAL",
        "toStatusReference": workflow.initial,
        "links": [],
        "actions": [],
        "validators": [],
        "triggers": [],
        "properties": {},
    }


def _transition_definition(transition: Transition) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": transition.id,
        "name": transition.name,
        "description": "",
        "type": "GLOBAL" if transition.is_global else "DIRECTED",
        "toStatusReference": transition.to,
        "links": [
            {"fromStatusReference": source, "fromPort": 0, "toPort": 1}
            for source in transition.sources
        ],
        "actions": [],
        "validators": [],
        "triggers": [],
        "properties": {},
    }
    if transition.has_screen:
        data["transitionScreen"] = {
            "ruleKey": "system:transition-screen",
            "parameters": {"screenId": RESOLVE_SCREEN},
        }
    return data


def scheme_json(scheme: Scheme) -> dict[str, Any]:
    return {
        "id": scheme.id,
        "name": scheme.name,
        "description": scheme.description,
        "defaultWorkflow": scheme.default,
        "issueTypeMappings": dict(scheme.mappings),
        "draft": False,
        "self": f"{BASE}/rest/api/3/workflowscheme/{scheme.id}",
    }


# ------------------------------------------------------------------ handlers


def get_transitions(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    project, type_id, status_id = _issue_ids(ctx.site, issue)
    workflow = workflow_of(ctx.site, project, type_id)
    expand = {e.strip() for e in (ctx.arg("expand") or "").split(",")}
    wanted = ctx.arg("transitionId")
    available = [t for t in workflow.available(status_id) if wanted in (None, "", t.id)]
    values = [transition_json(ctx.site, t, "transitions.fields" in expand) for t in available]
    return Result(body={"expand": "transitions", "transitions": values}, core=len(values))


def do_transition(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    payload = ctx.body_dict()
    chosen = payload.get("transition")
    if not isinstance(chosen, dict) or not (chosen.get("id") or chosen.get("looped")):
        raise ApiError(400, "Missing 'transition' identifier")
    project, type_id, status_id = _issue_ids(ctx.site, issue)
    workflow = workflow_of(ctx.site, project, type_id)
    transition = next(
        (t for t in workflow.available(status_id) if t.id == str(chosen.get("id"))), None
    )
    if transition is None:
        raise ApiError(400, f"Transition id '{chosen.get('id')}' is not valid for this issue.")
    fields = payload.get("fields") or {}
    if not isinstance(fields, dict):
        raise ApiError(400, "fields must be an object.")
    resolution, errors = None, {}
    for name, value in fields.items():
        if name != "resolution" or not transition.has_screen:
            errors[name] = (
                f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
            )
            continue
        resolution = find_resolution(ctx.site, value)
        if resolution is None:
            errors["resolution"] = f"The resolution '{value}' is not valid."
    if transition.has_screen and resolution is None and "resolution" not in errors:
        errors["resolution"] = "Resolution is required."
    comments = _comments_to_add(payload.get("update"), errors)
    if errors:
        raise ApiError(400, [], errors)
    ctx.check_issue_write(issue)
    with ctx.site.lock:
        apply(ctx.site, issue, transition.to, resolution, ctx.user.json(), ctx.now)
        if comments:
            # writes.py uses this module (a new issue's initial status): imported here.
            from sandbox.writes import append_comment

            for body in comments:
                append_comment(ctx, issue, body)
    return Result(status=204, body=None)


def _comments_to_add(update: Any, errors: dict) -> list[dict]:
    """`update.comment[].add.body`: a comment posted with the transition."""
    if not update:
        return []
    if not isinstance(update, dict) or set(update) - {"comment"}:
        errors["update"] = "Only comments can be added with a transition in the sandbox."
        return []
    bodies = []
    for operation in update.get("comment") or []:
        body = (operation.get("add") or {}).get("body") if isinstance(operation, dict) else None
        if not (isinstance(body, dict) and body.get("type") == "doc"):
            errors["comment"] = "Comment body must be an Atlassian Document."
            return []
        bodies.append(body)
    return bodies


def apply(
    site: Site, issue: Issue, to: str, resolution: dict | None, author: dict | None, now: float
) -> None:
    """Move the issue to status `to` (the workflow was checked by the caller)."""
    doc = pin(site, issue)
    fields = doc["fields"]
    old_status = fields["status"]
    items = [item("status", "status", old_status["name"], _name(to), old_status["id"], to)]
    fields["status"] = catalog.status_json(to)
    issue.status_id = to
    old_category = catalog.STATUS_CATEGORY.get(old_status["id"])
    if old_category != catalog.STATUS_CATEGORY[to]:
        fields["statuscategorychangedate"] = iso(now)
    old_resolution = fields.get("resolution")
    if catalog.STATUS_CATEGORY[to] == "done":
        new_resolution = resolution or old_resolution or catalog.RESOLUTION_DONE
        fields["resolution"] = catalog.resolution_json(new_resolution)
        fields["resolutiondate"] = iso(now)
    else:
        new_resolution = None
        fields["resolution"] = None
        fields["resolutiondate"] = None
    if (old_resolution or {}).get("id") != (new_resolution or {}).get("id"):
        items.append(
            item(
                "resolution",
                "resolution",
                (old_resolution or {}).get("name"),
                (new_resolution or {}).get("name"),
                (old_resolution or {}).get("id"),
                (new_resolution or {}).get("id"),
            )
        )
    record(site, issue, author, items, now)
    bump(site, issue, now)
    touch_related(site, issue)


def _name(status_id: str) -> str:
    return next(n for sid, n, _c in catalog.ALL_STATUSES if sid == status_id)


def workflows_search(ctx: Ctx) -> Result:
    _need_admin(ctx)
    workflows = site_workflows(ctx.site)
    query = (ctx.arg("queryString") or "").lower()
    if query:
        workflows = [w for w in workflows if query in w.name.lower()]
    active = {w.name for w in active_workflows(ctx.site)}
    is_active = ctx.arg("isActive")
    if is_active in ("true", "false"):
        workflows = [w for w in workflows if (w.name in active) == (is_active == "true")]
    expand = "values.transitions" in (ctx.arg("expand") or "")
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 50, maximum=200)
    values = [workflow_json(w, expand) for w in workflows]
    page = offset_page(values, start, size, "/rest/api/3/workflows/search")
    shown = {s["statusReference"] for w in page["values"] for s in w["statuses"]}
    page["statuses"] = [
        {**status_search_json(sid), "statusReference": sid}
        for sid, _n, _c in catalog.ALL_STATUSES
        if sid in shown
    ]
    return Result(body=page, core=len(page["values"]))


def workflow_schemes(ctx: Ctx) -> Result:
    _need_admin(ctx)
    values = [scheme_json(s) for s in schemes(ctx.site)]
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 50, maximum=50)
    page = offset_page(values, start, size, "/rest/api/3/workflowscheme")
    return Result(body=page, core=len(page["values"]))


def workflow_scheme(ctx: Ctx, scheme_id: str) -> Result:
    _need_admin(ctx)
    for scheme in schemes(ctx.site):
        if str(scheme.id) == scheme_id:
            return Result(body=scheme_json(scheme), core=1)
    raise ApiError(404, f"The workflow scheme with id {scheme_id} was not found.")


def workflow_scheme_projects(ctx: Ctx) -> Result:
    _need_admin(ctx)
    raw = [v for value in ctx.request.args.getlist("projectId") for v in value.split(",")]
    if not raw:
        raise ApiError(400, "projectId must be given.")
    grouped: dict[int, list[str]] = {}
    for ref in raw:
        project = ctx.site.project(ref) if ref.isdigit() else None
        if project is not None:
            grouped.setdefault(scheme_of(ctx.site, project).id, []).append(str(project.id))
    by_id = {s.id: s for s in schemes(ctx.site)}
    values = [
        {"projectIds": ids, "workflowScheme": scheme_json(by_id[sid])}
        for sid, ids in grouped.items()
    ]
    return Result(body={"values": values}, core=len(values))


def assign_workflow_scheme(ctx: Ctx) -> Result:
    _need_admin(ctx)
    payload = ctx.body_dict()
    project = ctx.site.project(str(payload.get("projectId") or ""))
    if project is None:
        raise ApiError(404, "The project was not found.")
    wanted = str(payload.get("workflowSchemeId") or CLASSIC_SCHEME.id)
    if wanted not in {str(s.id) for s in schemes(ctx.site)}:
        raise ApiError(404, f"The workflow scheme with id {wanted} was not found.")
    if any(i.project_id == project.id for i in ctx.site.live_issues()):
        raise ApiError(
            400, "The workflow scheme can only be changed for a project that has no issues."
        )
    with ctx.site.lock:
        project.schemes["workflow"] = wanted
        ctx.site.touch()
    return Result(status=204, body=None)


def project_statuses(ctx: Ctx, ref: str) -> Result:
    project = ctx.site.project(ref)
    if project is None:
        raise ApiError(404, f"No project could be found with key '{ref}'.")
    values = []
    for tid, name, subtask, _level in catalog.ISSUE_TYPES:
        workflow = workflow_of(ctx.site, project, tid)
        values.append(
            {
                "self": f"{BASE}/rest/api/3/issuetype/{tid}",
                "id": tid,
                "name": name,
                "subtask": subtask,
                "statuses": [catalog.status_json(s) for s in workflow.statuses],
            }
        )
    return Result(body=values, core=len(values))


def resolution_search(ctx: Ctx) -> Result:
    values = [
        {
            **catalog.resolution_json(r),
            "iconUrl": "",
            "default": r["id"] == catalog.RESOLUTION_DONE["id"],
        }
        for r in site_resolutions(ctx.site)
    ]
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 50, maximum=100)
    page = offset_page(values, start, size, "/rest/api/3/resolution/search")
    return Result(body=page, core=len(page["values"]))


def statuses_search(ctx: Ctx) -> Result:
    values = [status_search_json(sid) for sid, _n, _c in site_statuses(ctx.site)]
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 200, maximum=200)
    page = offset_page(values, start, size, "/rest/api/3/statuses/search")
    return Result(body=page, core=len(page["values"]))


def _need_admin(ctx: Ctx) -> None:
    if not ctx.is_admin:
        raise ApiError(
            403, "You are not authorized to perform this action. Administrator rights are required."
        )
