"""Read-only configuration of a site: issue type schemes, screens and screen schemes, field
configurations and their schemes, permission, notification and issue security schemes, and
project roles. Derived from the site's projects (the first project uses the "software"
variants, the second the restricted permission scheme and the security scheme), so they are
the same for a given seed and need no storage."""

from __future__ import annotations

from typing import Any

from sandbox import catalog
from sandbox.api import ApiError, Ctx, Result, offset_page
from sandbox.jira import PERMISSIONS
from sandbox.model import BASE, Project, Site

ALL_TYPES = [t[0] for t in catalog.ISSUE_TYPES]
BUG = "10002"
ADF_FIELDS = {"description", "environment", "customfield_10026"}


def _nth(site: Site, project: Project) -> int:
    return list(site.projects).index(project.id)


def _page(ctx: Ctx, values: list, path: str, default: int = 50) -> Result:
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", default, maximum=100)
    page = offset_page(values, start, size, path)
    return Result(body=page, core=len(page["values"]))


def _project_ids(ctx: Ctx) -> list[Project]:
    raw = [v for value in ctx.request.args.getlist("projectId") for v in value.split(",")]
    if not raw:
        raise ApiError(400, "projectId must be given.")
    return [p for p in (ctx.site.project(r) for r in raw if r.isdigit()) if p is not None]


def need_admin(ctx: Ctx) -> None:
    if not ctx.is_admin:
        raise ApiError(
            403, "You are not authorized to perform this action. Administrator rights are required."
        )


# ------------------------------------------------------------------ issue type schemes


def issue_type_schemes_of(site: Site) -> list[dict[str, Any]]:
    schemes = [
        {
            "id": "10000",
            "name": "Default Issue Type Scheme",
            "description": "Default issue type scheme is the list of global issue types.",
            "defaultIssueTypeId": "10001",
            "isDefault": True,
        }
    ]
    if site.projects:
        schemes.append(
            {
                "id": "10100",
                "name": f"{next(iter(site.projects.values())).key}: Scrum Issue Type Scheme",
                "description": "",
                "defaultIssueTypeId": "10003",
            }
        )
    return schemes


def issue_type_scheme_of(site: Site, project: Project) -> str:
    return "10100" if _nth(site, project) == 0 else "10000"


def issue_type_schemes(ctx: Ctx) -> Result:
    need_admin(ctx)
    return _page(ctx, issue_type_schemes_of(ctx.site), "/rest/api/3/issuetypescheme")


def issue_type_scheme_mapping(ctx: Ctx) -> Result:
    need_admin(ctx)
    values = [
        {"issueTypeSchemeId": s["id"], "issueTypeId": t}
        for s in issue_type_schemes_of(ctx.site)
        for t in ALL_TYPES
    ]
    return _page(ctx, values, "/rest/api/3/issuetypescheme/mapping")


def issue_type_scheme_projects(ctx: Ctx) -> Result:
    need_admin(ctx)
    by_id = {s["id"]: s for s in issue_type_schemes_of(ctx.site)}
    grouped: dict[str, list[str]] = {}
    for project in _project_ids(ctx):
        grouped.setdefault(issue_type_scheme_of(ctx.site, project), []).append(str(project.id))
    values = [{"issueTypeScheme": by_id[k], "projectIds": v} for k, v in grouped.items()]
    return _page(ctx, values, "/rest/api/3/issuetypescheme/project")


# ------------------------------------------------------------------ screens


SCREENS = [
    (1, "Default Screen", "Allows to update all system fields."),
    (2, "Workflow Screen", "Used for workflow transitions."),
    (3, "Resolve Issue Screen", "Allows to set resolution, change fix versions and assign."),
    (10000, "Software Default Screen", ""),
    (10001, "Bug Screen", "Bugs record their environment."),
]
SCREEN_SCHEMES = [
    (1, "Default Screen Scheme", "", {"default": 1}),
    (10000, "Software Screen Scheme", "", {"default": 10000, "create": 10000, "edit": 10000}),
    (10001, "Bug Screen Scheme", "", {"default": 10001}),
]
# (id, name, {issue type or "default": screen scheme id})
TYPE_SCREEN_SCHEMES = [
    ("1", "Default Issue Type Screen Scheme", {"default": 1}),
    ("10000", "Software Issue Type Screen Scheme", {"default": 10000, BUG: 10001}),
]


def screen_fields(site: Site, screen_id: int) -> list[str]:
    if screen_id == 3:
        return ["resolution", "fixVersions", "assignee"]
    if screen_id == 2:
        return ["assignee"]
    names = [
        "summary",
        "issuetype",
        "reporter",
        "description",
        "priority",
        "labels",
        "components",
        "fixVersions",
        "versions",
        "duedate",
        "assignee",
        "parent",
    ]
    if screen_id == 10001:
        names.append("environment")
    return names + [c["id"] for c in site.custom_fields]


def screens(ctx: Ctx) -> Result:
    need_admin(ctx)
    values = [{"id": sid, "name": n, "description": d} for sid, n, d in SCREENS]
    return _page(ctx, values, "/rest/api/3/screens", default=100)


def _screen(screen_id: str) -> int:
    if not screen_id.isdigit() or int(screen_id) not in {s[0] for s in SCREENS}:
        raise ApiError(404, f"The screen with id {screen_id} does not exist.")
    return int(screen_id)


def screen_tabs(ctx: Ctx, screen_id: str) -> Result:
    need_admin(ctx)
    found = _screen(screen_id)
    tabs = [{"id": found * 10 + 1, "name": "Field Tab"}]
    return Result(body=tabs, core=len(tabs))


def screen_tab_fields(ctx: Ctx, screen_id: str, tab_id: str) -> Result:
    need_admin(ctx)
    found = _screen(screen_id)
    if tab_id != str(found * 10 + 1):
        raise ApiError(404, f"The screen tab with id {tab_id} does not exist.")
    names = _field_names(ctx.site)
    values = [{"id": f, "name": names.get(f, f)} for f in screen_fields(ctx.site, found)]
    return Result(body=values, core=len(values))


def _field_names(site: Site) -> dict[str, str]:
    names = {fid: name for fid, name, _schema in catalog.SYSTEM_FIELDS}
    names.update({c["id"]: c["name"] for c in site.custom_fields})
    return names


def screen_schemes(ctx: Ctx) -> Result:
    need_admin(ctx)
    values = [
        {"id": sid, "name": n, "description": d, "screens": screens}
        for sid, n, d, screens in SCREEN_SCHEMES
    ]
    return _page(ctx, values, "/rest/api/3/screenscheme", default=25)


def issue_type_screen_schemes(ctx: Ctx) -> Result:
    need_admin(ctx)
    values = [{"id": sid, "name": n, "description": ""} for sid, n, _m in TYPE_SCREEN_SCHEMES]
    return _page(ctx, values, "/rest/api/3/issuetypescreenscheme", default=25)


def issue_type_screen_scheme_mapping(ctx: Ctx) -> Result:
    need_admin(ctx)
    values = [
        {"issueTypeScreenSchemeId": sid, "issueTypeId": key, "screenSchemeId": str(target)}
        for sid, _n, mapping in TYPE_SCREEN_SCHEMES
        for key, target in mapping.items()
    ]
    return _page(ctx, values, "/rest/api/3/issuetypescreenscheme/mapping")


def issue_type_screen_scheme_projects(ctx: Ctx) -> Result:
    need_admin(ctx)
    grouped: dict[str, list[str]] = {}
    for project in _project_ids(ctx):
        scheme = "10000" if _nth(ctx.site, project) == 0 else "1"
        grouped.setdefault(scheme, []).append(str(project.id))
    by_id = {sid: {"id": sid, "name": n, "description": ""} for sid, n, _m in TYPE_SCREEN_SCHEMES}
    values = [{"issueTypeScreenScheme": by_id[k], "projectIds": v} for k, v in grouped.items()]
    return _page(ctx, values, "/rest/api/3/issuetypescreenscheme/project")


# ------------------------------------------------------------------ field configurations


FIELD_CONFIGURATIONS = [
    ("10000", "Default Field Configuration", "The default field configuration", True),
    ("10100", "Bug Field Configuration", "Bugs must say where they happen", False),
]


def field_configurations(ctx: Ctx) -> Result:
    need_admin(ctx)
    values = [
        {"id": int(fid), "name": n, "description": d, **({"isDefault": True} if default else {})}
        for fid, n, d, default in FIELD_CONFIGURATIONS
    ]
    return _page(ctx, values, "/rest/api/3/fieldconfiguration")


def field_configuration_items(ctx: Ctx, configuration_id: str) -> Result:
    need_admin(ctx)
    if configuration_id not in {f[0] for f in FIELD_CONFIGURATIONS}:
        raise ApiError(404, f"The field configuration {configuration_id} does not exist.")
    required = {"summary", "issuetype"} | (
        {"environment"} if configuration_id == "10100" else set()
    )
    ids = [fid for fid, _n, _s in catalog.SYSTEM_FIELDS] + [c["id"] for c in ctx.site.custom_fields]
    values = [
        {
            "id": fid,
            "isHidden": False,
            "isRequired": fid in required,
            "renderer": "atlassian-wiki-renderer" if fid in ADF_FIELDS else "jira-text-renderer",
            "description": "",
        }
        for fid in ids
    ]
    return _page(ctx, values, f"/rest/api/3/fieldconfiguration/{configuration_id}/fields")


FIELD_CONFIGURATION_SCHEME = {
    "id": "10000",
    "name": "Software field configurations",
    "description": "",
}


def field_configuration_schemes(ctx: Ctx) -> Result:
    need_admin(ctx)
    return _page(ctx, [FIELD_CONFIGURATION_SCHEME], "/rest/api/3/fieldconfigurationscheme")


def field_configuration_scheme_mapping(ctx: Ctx) -> Result:
    need_admin(ctx)
    values = [
        {
            "fieldConfigurationSchemeId": "10000",
            "issueTypeId": "default",
            "fieldConfigurationId": "10000",
        },
        {
            "fieldConfigurationSchemeId": "10000",
            "issueTypeId": BUG,
            "fieldConfigurationId": "10100",
        },
    ]
    return _page(ctx, values, "/rest/api/3/fieldconfigurationscheme/mapping")


def field_configuration_scheme_projects(ctx: Ctx) -> Result:
    need_admin(ctx)
    custom, default = [], []
    for project in _project_ids(ctx):
        (custom if _nth(ctx.site, project) == 0 else default).append(str(project.id))
    values = []
    if custom:
        values.append(
            {"fieldConfigurationScheme": FIELD_CONFIGURATION_SCHEME, "projectIds": custom}
        )
    if default:  # projects on the system default scheme name none
        values.append({"projectIds": default})
    return _page(ctx, values, "/rest/api/3/fieldconfigurationscheme/project")


# ------------------------------------------------------------------ permission schemes


def _holder(kind: str, parameter: str | None = None) -> dict[str, Any]:
    holder: dict[str, Any] = {"type": kind}
    if parameter is not None:
        holder.update(parameter=parameter, value=parameter)
    return holder


def permission_scheme(scheme_id: int, expand: bool) -> dict[str, Any]:
    restricted = scheme_id == 10000
    data: dict[str, Any] = {
        "id": scheme_id,
        "self": f"{BASE}/rest/api/3/permissionscheme/{scheme_id}",
        "name": "Restricted permission scheme" if restricted else "Default Permission Scheme",
        "description": "Only developers work on issues." if restricted else "The default scheme.",
    }
    if expand:
        grants = []
        for n, key in enumerate(sorted(PERMISSIONS)):
            if PERMISSIONS[key][2] != "PROJECT":
                continue
            admin_only = PERMISSIONS[key][3] or (restricted and key != "BROWSE_PROJECTS")
            holder = _holder("projectRole", "10002" if admin_only else "10003")
            if not restricted and not admin_only:
                holder = _holder("applicationRole")
            grants.append(
                {
                    "id": scheme_id * 100 + n,
                    "self": f"{BASE}/rest/api/3/permissionscheme/{scheme_id}/permission/{scheme_id * 100 + n}",
                    "holder": holder,
                    "permission": key,
                }
            )
        data["permissions"] = grants
    return data


def permission_scheme_of(site: Site, project: Project) -> int:
    return 10000 if _nth(site, project) == 1 else 0


def permission_schemes(ctx: Ctx) -> Result:
    expand = bool(ctx.arg("expand"))
    schemes = [permission_scheme(0, expand)]
    if len(ctx.site.projects) > 1:
        schemes.append(permission_scheme(10000, expand))
    return Result(body={"permissionSchemes": schemes}, core=len(schemes))


def permission_scheme_get(ctx: Ctx, scheme_id: str) -> Result:
    known = {0} | ({10000} if len(ctx.site.projects) > 1 else set())
    if not scheme_id.isdigit() or int(scheme_id) not in known:
        raise ApiError(404, f"Permission scheme {scheme_id} does not exist.")
    body = permission_scheme(int(scheme_id), bool(ctx.arg("expand")))
    return Result(body=body, core=1, identity=len(body.get("permissions", [])))


def project_permission_scheme(ctx: Ctx, ref: str) -> Result:
    project = _project(ctx, ref)
    body = permission_scheme(permission_scheme_of(ctx.site, project), bool(ctx.arg("expand")))
    return Result(body=body, core=1)


def _project(ctx: Ctx, ref: str) -> Project:
    project = ctx.site.project(ref)
    if project is None:
        raise ApiError(404, f"No project could be found with key '{ref}'.")
    return project


# ------------------------------------------------------------------ notification schemes

EVENTS = [(1, "Issue Created"), (2, "Issue Updated"), (3, "Issue Assigned"), (6, "Issue Commented")]


def notification_scheme(site: Site) -> dict[str, Any]:
    notifications = [
        {"id": 1, "notificationType": "CurrentAssignee"},
        {"id": 2, "notificationType": "Reporter"},
        {"id": 3, "notificationType": "AllWatchers"},
        {"id": 4, "notificationType": "ProjectRole", "parameter": "10002", "recipient": "10002"},
    ]
    return {
        "id": 10000,
        "self": f"{BASE}/rest/api/3/notificationscheme/10000",
        "name": "Default Notification Scheme",
        "description": "",
        "expand": "notificationSchemeEvents,user,group,projectRole,field,all",
        "notificationSchemeEvents": [
            {
                "event": {"id": eid, "name": name, "description": f"{name} event"},
                "notifications": notifications[: 4 if eid in (1, 2) else 3],
            }
            for eid, name in EVENTS
        ],
        "projects": sorted(site.projects),
    }


def notification_schemes(ctx: Ctx) -> Result:
    need_admin(ctx)
    return _page(ctx, [notification_scheme(ctx.site)], "/rest/api/3/notificationscheme")


def notification_scheme_get(ctx: Ctx, scheme_id: str) -> Result:
    need_admin(ctx)
    if scheme_id != "10000":
        raise ApiError(404, f"Notification scheme {scheme_id} does not exist.")
    return Result(body=notification_scheme(ctx.site), core=1)


def project_notification_scheme(ctx: Ctx, ref: str) -> Result:
    _project(ctx, ref)
    return Result(body=notification_scheme(ctx.site), core=1)


# ------------------------------------------------------------------ issue security schemes


def security_scheme() -> dict[str, Any]:
    levels = [("10100", "Staff only", "Visible to the Administrators role."), ("10101", "Team", "")]
    return {
        "id": 10000,
        "self": f"{BASE}/rest/api/3/issuesecurityschemes/10000",
        "name": "Confidential work",
        "description": "Keeps security issues among staff.",
        "defaultSecurityLevelId": 10101,
        "levels": [
            {
                "id": lid,
                "self": f"{BASE}/rest/api/3/securitylevel/{lid}",
                "name": name,
                "description": description,
                "isDefault": lid == "10101",
                "issueSecuritySchemeId": "10000",
            }
            for lid, name, description in levels
        ],
    }


def security_schemes(ctx: Ctx) -> Result:
    need_admin(ctx)
    return Result(body={"issueSecuritySchemes": [security_scheme()]}, core=1)


def security_scheme_get(ctx: Ctx, scheme_id: str) -> Result:
    need_admin(ctx)
    if scheme_id != "10000":
        raise ApiError(404, f"Issue security scheme {scheme_id} does not exist.")
    return Result(body=security_scheme(), core=1)


def project_security_scheme(ctx: Ctx, ref: str) -> Result:
    project = _project(ctx, ref)
    if _nth(ctx.site, project) != 1:
        raise ApiError(404, "The project does not use an issue security scheme.")
    return Result(body=security_scheme(), core=1)


# ------------------------------------------------------------------ roles


def roles(ctx: Ctx) -> Result:
    need_admin(ctx)
    values = [
        {
            "self": f"{BASE}/rest/api/3/role/{rid}",
            "name": name,
            "id": rid,
            "description": f"{name} of a project",
            "actors": [],
        }
        for rid, name in catalog.ROLES
    ]
    return Result(body=values, identity=len(values))
