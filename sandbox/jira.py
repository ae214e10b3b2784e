"""Jira Cloud REST v3: identity and configuration reads (issues: search.py and parts.py;
writes: writes.py)."""

from __future__ import annotations

from typing import Any

from sandbox import catalog
from sandbox.api import ApiError, Ctx, Result, offset_page
from sandbox.clock import iso
from sandbox.content import project_ref
from sandbox.model import BASE, Site

PERMISSIONS = {
    # key: (id, name, type, admin only)
    "ADMINISTER": ("0", "Administer Jira", "GLOBAL", True),
    "SYSTEM_ADMIN": ("44", "Administer Jira system", "GLOBAL", True),
    "ADMINISTER_PROJECTS": ("23", "Administer Projects", "PROJECT", True),
    "BROWSE_PROJECTS": ("10", "Browse Projects", "PROJECT", False),
    "CREATE_ISSUES": ("11", "Create Issues", "PROJECT", False),
    "EDIT_ISSUES": ("12", "Edit Issues", "PROJECT", False),
    "ADD_COMMENTS": ("15", "Add Comments", "PROJECT", False),
    "CREATE_ATTACHMENTS": ("19", "Create Attachments", "PROJECT", False),
    "LINK_ISSUES": ("21", "Link Issues", "PROJECT", False),
    "WORK_ON_ISSUES": ("20", "Work On Issues", "PROJECT", False),
    "USER_PICKER": ("27", "Browse users and groups", "GLOBAL", False),
}


# ------------------------------------------------------------------ identity


def myself(ctx: Ctx) -> Result:
    return Result(body=ctx.user.json(), identity=1)


def mypermissions(ctx: Ctx) -> Result:
    raw = ctx.arg("permissions")
    if not raw:
        raise ApiError(400, "The 'permissions' query parameter is required.")
    result = {}
    for key in [k.strip() for k in raw.split(",") if k.strip()]:
        if key not in PERMISSIONS:
            raise ApiError(404, f"No project permissions with key {key}.")
        pid, name, kind, admin_only = PERMISSIONS[key]
        result[key] = {
            "id": pid,
            "key": key,
            "name": name,
            "type": kind,
            "description": f"Ability to {name.lower()}.",
            "havePermission": ctx.is_admin if admin_only else True,
        }
    return Result(body={"permissions": result}, identity=len(result))


def server_info(ctx: Ctx) -> Result:
    return Result(
        body={
            "baseUrl": ctx.site.url,
            "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0],
            "deploymentType": "Cloud",
            "buildNumber": 100295,
            "buildDate": "2026-11-01T00:00:00.000+0000",
            "serverTime": iso(ctx.now),
            "scmInfo": "sandbox",
            "serverTitle": "Jira",
            "serverTimeZone": "Etc/UTC",
        }
    )


# ------------------------------------------------------------------ projects and configuration


def project_json(site: Site, project, expand: bool = False) -> dict[str, Any]:
    data = project_ref(project)
    data.update({"description": project.description, "style": "classic", "isPrivate": False})
    lead = site.state.users.get(project.lead_account_id)
    if lead is not None:
        data["lead"] = lead.json()
    if expand:
        data["components"] = [component_json(c, site) for c in project.components]
        data["versions"] = [version_json(v) for v in project.versions]
        data["issueTypes"] = [catalog.issuetype_json(t[0]) for t in catalog.ISSUE_TYPES]
    return data


def component_json(component: dict, site: Site | None = None) -> dict[str, Any]:
    # leadAccountId is write-only in Jira: responses carry the lead as a user object.
    data = {"self": f"{BASE}/rest/api/3/component/{component['id']}"}
    data.update((k, v) for k, v in component.items() if k != "leadAccountId")
    lead = site.state.users.get(component.get("leadAccountId", "")) if site else None
    if lead is not None:
        data["lead"] = lead.json()
    return data


def version_json(version: dict) -> dict[str, Any]:
    return {"self": f"{BASE}/rest/api/3/version/{version['id']}", **version}


def _project(ctx: Ctx, ref: str):
    project = ctx.site.project(ref)
    if project is None:
        raise ApiError(404, f"No project could be found with key '{ref}'.")
    return project


def project_search(ctx: Ctx) -> Result:
    start = ctx.int_arg("startAt", 0)
    size = ctx.int_arg("maxResults", 50, maximum=100)
    projects = list(ctx.site.projects.values())
    keys = ctx.request.args.getlist("keys")
    if keys:
        wanted = {k.upper() for value in keys for k in value.split(",")}
        projects = [p for p in projects if p.key in wanted]
    query = (ctx.arg("query") or "").lower()
    if query:
        projects = [p for p in projects if query in p.key.lower() or query in p.name.lower()]
    page = offset_page(
        [project_json(ctx.site, p) for p in projects], start, size, "/rest/api/3/project/search"
    )
    return Result(body=page, core=len(page["values"]))


def project_get(ctx: Ctx, ref: str) -> Result:
    return Result(body=project_json(ctx.site, _project(ctx, ref), expand=True), core=1)


def project_components(ctx: Ctx, ref: str) -> Result:
    components = [component_json(c, ctx.site) for c in _project(ctx, ref).components]
    return Result(body=components, core=len(components))


def project_versions(ctx: Ctx, ref: str) -> Result:
    versions = [version_json(v) for v in _project(ctx, ref).versions]
    return Result(body=versions, core=len(versions))


def project_versions_page(ctx: Ctx, ref: str) -> Result:
    versions = [version_json(v) for v in _project(ctx, ref).versions]
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 50, maximum=100)
    page = offset_page(versions, start, size, f"/rest/api/3/project/{ref}/version")
    return Result(body=page, core=len(page["values"]))


def project_roles(ctx: Ctx, ref: str) -> Result:
    project = _project(ctx, ref)
    roles = {
        name: f"{BASE}/rest/api/3/project/{project.id}/role/{rid}" for rid, name in catalog.ROLES
    }
    return Result(body=roles, identity=len(roles))


def project_role(ctx: Ctx, ref: str, role_id: str) -> Result:
    project = _project(ctx, ref)
    names = dict(catalog.ROLES)
    if not role_id.isdigit() or int(role_id) not in names:
        raise ApiError(404, "Can not retrieve a role actor for a null project role.")
    actors = []
    for n, account_id in enumerate(project.roles.get(int(role_id), [])):
        user = ctx.state.users.get(account_id)
        if user is None:
            continue
        actors.append(
            {
                "id": 10100 + n,
                "displayName": user.name,
                "type": "atlassian-user-role-actor",
                "actorUser": {"accountId": user.account_id},
            }
        )
    body = {
        "self": f"{BASE}/rest/api/3/project/{project.id}/role/{role_id}",
        "name": names[int(role_id)],
        "id": int(role_id),
        "description": f"{names[int(role_id)]} of the project",
        "actors": actors,
    }
    return Result(body=body, identity=1 + len(actors))


def fields(ctx: Ctx) -> Result:
    result = []
    for fid, name, schema in catalog.SYSTEM_FIELDS:
        result.append(
            {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": False,
                "orderable": fid not in ("created", "updated", "creator", "status"),
                "navigable": fid not in catalog.NOT_NAVIGABLE,
                "searchable": True,
                "clauseNames": [fid],
                "schema": schema,
            }
        )
    for custom in ctx.site.custom_fields:
        number = custom["id"].split("_")[1]
        result.append(
            {
                "id": custom["id"],
                "key": custom["id"],
                "name": custom["name"],
                "custom": True,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [f"cf[{number}]", custom["name"]],
                "schema": {**custom["schema"], "customId": int(number)},
            }
        )
    return Result(body=result, core=len(result))


def issue_types(ctx: Ctx) -> Result:
    values = [catalog.issuetype_json(t[0]) for t in catalog.ISSUE_TYPES]
    return Result(body=values, core=len(values))


def priority_search(ctx: Ctx) -> Result:
    values = [catalog.priority_full(p[0]) for p in catalog.PRIORITIES]
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 50, maximum=100)
    page = offset_page(values, start, size, "/rest/api/3/priority/search")
    return Result(body=page, core=len(page["values"]))


def issue_link_types(ctx: Ctx) -> Result:
    values = [catalog.link_type_json(t[0]) for t in catalog.LINK_TYPES]
    return Result(body={"issueLinkTypes": values}, core=len(values))


def users_search(ctx: Ctx) -> Result:
    start = ctx.int_arg("startAt", 0)
    size = ctx.int_arg("maxResults", 50, maximum=1000)
    users = [ctx.state.users[a] for a in sorted(ctx.site.members) if a in ctx.state.users]
    chosen = [u.json() for u in users[start : start + size]]
    return Result(body=chosen, identity=len(chosen))
