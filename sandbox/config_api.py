"""Configuration a restore can write back, and every configuration route: custom field contexts
and options (read, create, update, delete), filters, dashboards and gadgets, project role
actors, versions and components. The read-only schemes are in sandbox.schemes."""

from __future__ import annotations

import re
from typing import Any

from sandbox import config, schemes
from sandbox.api import ApiError, Ctx, Result, offset_page
from sandbox.jira import component_json, project_role, version_json
from sandbox.model import BASE, Site

OPTION_KINDS = ("select", "multiselect")


# ------------------------------------------------------------------ contexts and options


def _custom(ctx: Ctx, field_id: str) -> dict:
    for custom in ctx.site.custom_fields:
        if custom["id"] == field_id:
            return custom
    raise ApiError(404, "The custom field was not found.")


def _context(ctx: Ctx, field_id: str, context_id: str) -> dict:
    _custom(ctx, field_id)
    for context in config.of(ctx.site).contexts.get(field_id, []):
        if context["id"] == context_id:
            return context
    raise ApiError(404, "The context was not found.")


def _paged(ctx: Ctx, values: list, path: str, default: int = 50, maximum: int = 100) -> Result:
    start = ctx.int_arg("startAt", 0)
    size = ctx.int_arg("maxResults", default, maximum=maximum)
    page = offset_page(values, start, size, path)
    return Result(body=page, core=len(page["values"]))


def field_contexts(ctx: Ctx, field_id: str) -> Result:
    _custom(ctx, field_id)
    keys = ("id", "name", "description", "isGlobalContext", "isAnyIssueType")
    values = [{k: c[k] for k in keys} for c in config.of(ctx.site).contexts.get(field_id, [])]
    return _paged(ctx, values, f"/rest/api/3/field/{field_id}/context")


def create_context(ctx: Ctx, field_id: str) -> Result:
    schemes.need_admin(ctx)
    _custom(ctx, field_id)
    payload = ctx.body_dict()
    name = str(payload.get("name") or "").strip()
    if not name:
        raise ApiError(400, [], {"name": "The context name must not be empty."})
    project_ids = [str(p) for p in payload.get("projectIds") or []]
    type_ids = [str(t) for t in payload.get("issueTypeIds") or []]
    if any(ctx.site.project(p) is None for p in project_ids):
        raise ApiError(404, "A project in projectIds does not exist.")
    site_config = config.of(ctx.site)
    with ctx.site.lock:
        context = {
            "id": site_config.new_id("context"),
            "name": name,
            "description": str(payload.get("description") or ""),
            "isGlobalContext": not project_ids,
            "isAnyIssueType": not type_ids,
            "projectIds": project_ids,
            "issueTypeIds": type_ids,
        }
        site_config.contexts.setdefault(field_id, []).append(context)
        site_config.options[context["id"]] = []
    body = {k: context[k] for k in ("id", "name", "description", "projectIds", "issueTypeIds")}
    return Result(status=201, body=body)


def context_issue_type_mapping(ctx: Ctx, field_id: str) -> Result:
    schemes.need_admin(ctx)
    _custom(ctx, field_id)
    values = []
    for context in config.of(ctx.site).contexts.get(field_id, []):
        if context["isAnyIssueType"]:
            values.append({"contextId": context["id"], "isAnyIssueType": True})
        values += [{"contextId": context["id"], "issueTypeId": t} for t in context["issueTypeIds"]]
    return _paged(ctx, values, f"/rest/api/3/field/{field_id}/context/issuetypemapping")


def context_project_mapping(ctx: Ctx, field_id: str) -> Result:
    schemes.need_admin(ctx)
    _custom(ctx, field_id)
    values = []
    for context in config.of(ctx.site).contexts.get(field_id, []):
        if context["isGlobalContext"]:
            values.append({"contextId": context["id"], "isGlobalContext": True})
        values += [{"contextId": context["id"], "projectId": p} for p in context["projectIds"]]
    return _paged(ctx, values, f"/rest/api/3/field/{field_id}/context/projectmapping")


def field_context_options(ctx: Ctx, field_id: str, context_id: str) -> Result:
    _context(ctx, field_id, context_id)
    options = [dict(o) for o in config.of(ctx.site).options.get(context_id, [])]
    path = f"/rest/api/3/field/{field_id}/context/{context_id}/option"
    return _paged(ctx, options, path, default=100, maximum=1000)


def _options_request(ctx: Ctx, field_id: str, context_id: str) -> tuple[list, list[dict]]:
    schemes.need_admin(ctx)
    custom = _custom(ctx, field_id)
    if custom["kind"] not in OPTION_KINDS:
        raise ApiError(400, "The custom field doesn't support options.")
    _context(ctx, field_id, context_id)
    requested = ctx.body_dict().get("options")
    if not isinstance(requested, list) or not requested or len(requested) > 1000:
        raise ApiError(400, [], {"options": "Between 1 and 1000 options must be given."})
    return requested, config.of(ctx.site).options[context_id]


def create_options(ctx: Ctx, field_id: str, context_id: str) -> Result:
    requested, current = _options_request(ctx, field_id, context_id)
    taken = {o["value"] for o in current}
    for entry in requested:
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value.strip():
            raise ApiError(400, [], {"value": "The option value must not be empty."})
        if value in taken:
            raise ApiError(400, [], {"value": f"The option '{value}' already exists."})
        taken.add(value)
    created = []
    site_config = config.of(ctx.site)
    with ctx.site.lock:
        for entry in requested:
            option = {
                "id": site_config.new_id("option"),
                "value": entry["value"],
                "disabled": bool(entry.get("disabled", False)),
            }
            current.append(option)
            created.append(dict(option))
        ctx.site.touch()
    return Result(body={"options": created})


def update_options(ctx: Ctx, field_id: str, context_id: str) -> Result:
    requested, current = _options_request(ctx, field_id, context_id)
    by_id = {o["id"]: o for o in current}
    for entry in requested:
        if not isinstance(entry, dict) or str(entry.get("id")) not in by_id:
            raise ApiError(400, [], {"id": f"The option {entry} does not exist in the context."})
    updated = []
    with ctx.site.lock:
        for entry in requested:
            option = by_id[str(entry["id"])]
            if "value" in entry and entry["value"] != option["value"]:
                option["value"] = str(entry["value"])
                _option_changed(ctx.site, option["id"], option["value"])
            if "disabled" in entry:
                option["disabled"] = bool(entry["disabled"])
            updated.append(dict(option))
        ctx.site.touch()
    return Result(body={"options": updated})


def delete_option(ctx: Ctx, field_id: str, context_id: str, option_id: str) -> Result:
    schemes.need_admin(ctx)
    _context(ctx, field_id, context_id)
    current = config.of(ctx.site).options.get(context_id, [])
    if option_id not in {o["id"] for o in current}:
        raise ApiError(404, f"The option {option_id} does not exist in the context.")
    with ctx.site.lock:
        current[:] = [o for o in current if o["id"] != option_id]
        _option_changed(ctx.site, option_id, None)
        ctx.site.touch()
    return Result(status=204, body=None)


def _option_changed(site: Site, option_id: str, value: str | None) -> None:
    """Issues show renamed options with their new value and lose deleted ones (as in Jira):
    every cached issue is stale."""
    site.option_changes[option_id] = value
    site.json_cache.clear()
    site.doc_cache.clear()
    for issue in site.issues.values():
        issue.rev += 1


# ------------------------------------------------------------------ filters


FILTER_EXPAND = (
    "description,owner,jql,searchUrl,viewUrl,favourite,favouritedCount,"
    "sharePermissions,editPermissions,isWritable,subscriptions,approximateLastUsed"
)


def _share_json(site: Site, share: dict) -> dict[str, Any]:
    data = {k: v for k, v in share.items() if k != "project"}
    if "project" in share:
        project = site.project(share["project"]["id"])
        data["project"] = (
            {
                "id": str(project.id),
                "key": project.key,
                "name": project.name,
                "self": f"{BASE}/rest/api/3/project/{project.id}",
            }
            if project is not None
            else {"id": share["project"]["id"]}
        )
    return data


def filter_json(site: Site, data: dict, expand: set[str] | None = None) -> dict[str, Any]:
    """A filter; with `expand` given, only id, name, self and the expanded parts."""
    owner = site.state.users.get(data["owner"])
    full: dict[str, Any] = {
        "self": f"{BASE}/rest/api/3/filter/{data['id']}",
        "id": data["id"],
        "name": data["name"],
        "description": data["description"],
        "owner": owner.json() if owner else None,
        "jql": data["jql"],
        "viewUrl": f"{BASE}/issues/?filter={data['id']}",
        "searchUrl": f"{BASE}/rest/api/3/search/jql?jql={data['jql']}",
        "favourite": data["favourite"],
        "favouritedCount": data["favouritedCount"],
        "sharePermissions": [_share_json(site, s) for s in data["sharePermissions"]],
        "editPermissions": [_share_json(site, s) for s in data["editPermissions"]],
        "subscriptions": {
            "size": 0,
            "items": [],
            "max-results": 0,
            "start-index": 0,
            "end-index": 0,
        },
    }
    if full["owner"] is None:
        del full["owner"]
    if expand is None:
        return full
    keep = {"self", "id", "name"} | expand
    # The search lists a filter's subscriptions as a plain array.
    return {k: ([] if k == "subscriptions" else v) for k, v in full.items() if k in keep}


def _expand(ctx: Ctx) -> set[str]:
    return {e.strip() for e in (ctx.arg("expand") or "").split(",") if e.strip()}


def filter_search(ctx: Ctx) -> Result:
    filters = list(config.of(ctx.site).filters.values())
    name = (ctx.arg("filterName") or "").lower()
    if name:
        filters = [f for f in filters if name in f["name"].lower()]
    wanted_ids = {v for value in ctx.request.args.getlist("id") for v in value.split(",")}
    if wanted_ids:
        filters = [f for f in filters if f["id"] in wanted_ids]
    project_id = ctx.arg("projectId")
    if project_id:
        filters = [
            f
            for f in filters
            if any(s.get("project", {}).get("id") == project_id for s in f["sharePermissions"])
        ]
    account = ctx.arg("accountId")
    if account:
        filters = [f for f in filters if f["owner"] == account]
    visible = [f for f in filters if f["sharePermissions"] or f["owner"] == ctx.user.account_id]
    visible.sort(key=lambda f: f["name"].lower())
    values = [filter_json(ctx.site, f, _expand(ctx)) for f in visible]
    return _paged(ctx, values, "/rest/api/3/filter/search")


def _filter(ctx: Ctx, filter_id: str) -> dict:
    found = config.of(ctx.site).filters.get(filter_id)
    if found is None or not (found["sharePermissions"] or found["owner"] == ctx.user.account_id):
        raise ApiError(
            400,
            "The selected filter is not available to you, perhaps it has been deleted or had its permissions changed.",
        )
    return found


def get_filter(ctx: Ctx, filter_id: str) -> Result:
    return Result(body=filter_json(ctx.site, _filter(ctx, filter_id)), core=1)


def _shares(ctx: Ctx, raw: Any, name: str) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(400, [], {name: f"{name} must be a list."})
    shares = []
    for entry in raw:
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind in ("global", "loggedin", "authenticated"):
            shares.append({"type": kind})
        elif kind == "project":
            ref = str((entry.get("project") or {}).get("id") or entry.get("projectId") or "")
            project = ctx.site.project(ref)
            if project is None:
                raise ApiError(400, [], {name: f"Project '{ref}' does not exist."})
            shares.append(config.project_share(project.id))
        elif kind in ("group", "projectRole", "user"):
            shares.append({k: v for k, v in entry.items() if k != "id"})
        else:
            raise ApiError(400, [], {name: f"Share type '{kind}' is not valid."})
    return shares


def _filter_fields(ctx: Ctx, payload: dict, existing: dict | None) -> dict[str, Any]:
    name = payload.get("name", existing["name"] if existing else None)
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, [], {"filterName": "You must specify a name for the filter."})
    if len(name) > 255:
        raise ApiError(400, [], {"filterName": "The filter name is longer than 255 characters."})
    for other in config.of(ctx.site).filters.values():
        if (
            other is not existing
            and other["owner"] == ctx.user.account_id
            and other["name"] == name
        ):
            raise ApiError(400, [], {"filterName": "Filter with same name already exists."})
    jql = payload.get("jql", existing["jql"] if existing else "")
    if not isinstance(jql, str):
        raise ApiError(400, [], {"jql": "The JQL must be a string."})
    values: dict[str, Any] = {"name": name, "jql": jql}
    if "description" in payload or existing is None:
        values["description"] = str(payload.get("description") or "")
    for key, label in (
        ("sharePermissions", "sharePermissions"),
        ("editPermissions", "editPermissions"),
    ):
        if key in payload or existing is None:
            values[key] = _shares(ctx, payload.get(key), label)
    if "favourite" in payload:
        values["favourite"] = bool(payload["favourite"])
    return values


def create_filter(ctx: Ctx) -> Result:
    payload = ctx.body_dict()
    values = _filter_fields(ctx, payload, None)
    site_config = config.of(ctx.site)
    with ctx.site.lock:
        created = config.add_filter(
            ctx.site,
            site_config,
            values["name"],
            values["jql"],
            ctx.user.account_id,
            values["sharePermissions"],
            values["description"],
        )
        created["editPermissions"] = [
            dict(s, id=int(site_config.new_id("share"))) for s in values["editPermissions"]
        ]
        created["favourite"] = values.get("favourite", False)
    return Result(body=filter_json(ctx.site, created))


def update_filter(ctx: Ctx, filter_id: str) -> Result:
    found = _filter(ctx, filter_id)
    if found["owner"] != ctx.user.account_id and not ctx.is_admin:
        raise ApiError(400, "Only the owner of a filter can change it.")
    values = _filter_fields(ctx, ctx.body_dict(), found)
    site_config = config.of(ctx.site)
    with ctx.site.lock:
        for key in ("sharePermissions", "editPermissions"):
            if key in values:
                values[key] = [dict(s, id=int(site_config.new_id("share"))) for s in values[key]]
        found.update(values)
    return Result(body=filter_json(ctx.site, found))


def delete_filter(ctx: Ctx, filter_id: str) -> Result:
    found = _filter(ctx, filter_id)
    if found["owner"] != ctx.user.account_id and not ctx.is_admin:
        raise ApiError(400, "Only the owner of a filter can delete it.")
    with ctx.site.lock:
        config.of(ctx.site).filters.pop(filter_id, None)
    return Result(status=204, body=None)


# ------------------------------------------------------------------ dashboards


def dashboard_json(site: Site, data: dict) -> dict[str, Any]:
    owner = site.state.users.get(data["owner"] or "")
    body: dict[str, Any] = {
        "id": data["id"],
        "self": f"{BASE}/rest/api/3/dashboard/{data['id']}",
        "name": data["name"],
        "description": data["description"],
        "isFavourite": False,
        "popularity": 1,
        "sharePermissions": [_share_json(site, s) for s in data["sharePermissions"]],
        "editPermissions": [_share_json(site, s) for s in data["editPermissions"]],
        "systemDashboard": data["systemDashboard"],
        "view": f"{BASE}/jira/dashboards/{data['id']}",
        "isWritable": not data["systemDashboard"],
    }
    if owner is not None:
        user = owner.json()
        body["owner"] = {
            "accountId": user["accountId"],
            "displayName": user["displayName"],
            "active": user["active"],
            "avatarUrls": user["avatarUrls"],
            "self": user["self"],
        }
    return body


def _visible_dashboards(ctx: Ctx) -> list[dict]:
    return [
        d
        for d in config.of(ctx.site).dashboards.values()
        if d["sharePermissions"] or d["owner"] == ctx.user.account_id
    ]


def dashboards(ctx: Ctx) -> Result:
    found = _visible_dashboards(ctx)
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 20, maximum=1000)
    chunk = found[start : start + size]
    body = {
        "startAt": start,
        "maxResults": size,
        "total": len(found),
        "dashboards": [dashboard_json(ctx.site, d) for d in chunk],
    }
    return Result(body=body, core=len(chunk))


def dashboard_search(ctx: Ctx) -> Result:
    found = _visible_dashboards(ctx)
    name = (ctx.arg("dashboardName") or "").lower()
    if name:
        found = [d for d in found if name in d["name"].lower()]
    values = [dashboard_json(ctx.site, d) for d in found]
    return _paged(ctx, values, "/rest/api/3/dashboard/search")


def _dashboard(ctx: Ctx, dashboard_id: str) -> dict:
    found = config.of(ctx.site).dashboards.get(dashboard_id)
    if found is None or not (found["sharePermissions"] or found["owner"] == ctx.user.account_id):
        raise ApiError(404, f"The dashboard with id '{dashboard_id}' does not exist.")
    return found


def get_dashboard(ctx: Ctx, dashboard_id: str) -> Result:
    return Result(body=dashboard_json(ctx.site, _dashboard(ctx, dashboard_id)), core=1)


def create_dashboard(ctx: Ctx) -> Result:
    payload = ctx.body_dict()
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, [], {"name": "The dashboard name must not be empty."})
    shares = _shares(ctx, payload.get("sharePermissions"), "sharePermissions")
    edits = _shares(ctx, payload.get("editPermissions"), "editPermissions")
    site_config = config.of(ctx.site)
    with ctx.site.lock:
        created = config.add_dashboard(
            site_config, name, str(payload.get("description") or ""), ctx.user.account_id, shares
        )
        created["editPermissions"] = [dict(s, id=int(site_config.new_id("share"))) for s in edits]
    return Result(body=dashboard_json(ctx.site, created))


def gadgets(ctx: Ctx, dashboard_id: str) -> Result:
    found = _dashboard(ctx, dashboard_id)
    values = [dict(g) for g in found["gadgets"]]
    module = ctx.arg("moduleKey")
    if module:
        values = [g for g in values if g.get("moduleKey") in module.split(",")]
    return Result(body={"gadgets": values}, core=len(values))


def add_gadget(ctx: Ctx, dashboard_id: str) -> Result:
    found = _dashboard(ctx, dashboard_id)
    if found["systemDashboard"] or (found["owner"] != ctx.user.account_id and not ctx.is_admin):
        raise ApiError(400, "You cannot edit this dashboard.")
    payload = ctx.body_dict()
    module, uri = payload.get("moduleKey"), payload.get("uri")
    if bool(module) == bool(uri):
        raise ApiError(400, "Give either the gadget's moduleKey or its uri.")
    position = payload.get("position") or {}
    row, column = position.get("row"), position.get("column")
    if row is None or column is None:
        taken = {(g["position"]["row"], g["position"]["column"]) for g in found["gadgets"]}
        row, column = next((r, 0) for r in range(100) if (r, 0) not in taken)
    elif not (isinstance(row, int) and isinstance(column, int)) or not 0 <= column <= 2:
        raise ApiError(400, "The gadget position is not valid.")
    color = payload.get("color") or "blue"
    if color not in ("blue", "red", "yellow", "green", "cyan", "purple", "gray", "white"):
        raise ApiError(400, f"The color '{color}' is not valid.")
    with ctx.site.lock:
        gadget = config.add_gadget(
            config.of(ctx.site), str(payload.get("title") or ""), module or "", row, column, color
        )
        if uri:
            gadget["uri"] = uri
            del gadget["moduleKey"]
        found["gadgets"].append(gadget)
    return Result(body=dict(gadget))


# ------------------------------------------------------------------ roles, versions, components


def add_role_actors(ctx: Ctx, ref: str, role_id: str) -> Result:
    project = ctx.site.project(ref)
    if project is None:
        raise ApiError(404, f"No project could be found with key '{ref}'.")
    project_role(ctx, ref, role_id)  # 404 for an unknown role
    if not ctx.is_admin:
        raise ApiError(403, "You must be a project administrator to change role actors.")
    payload = ctx.body_dict()
    users = payload.get("user") or []
    if payload.get("group") or payload.get("groupId"):
        raise ApiError(400, "The sandbox has no groups: add users.")
    if not isinstance(users, list) or not users:
        raise ApiError(400, "Give at least one user (account id).")
    for account_id in users:
        if account_id not in ctx.site.members:
            raise ApiError(400, f"The user with account id '{account_id}' does not exist.")
    with ctx.site.lock:
        actors = project.roles.setdefault(int(role_id), [])
        for account_id in users:
            if account_id not in actors:
                actors.append(account_id)
        ctx.site.touch()
    return project_role(ctx, ref, role_id)


def _version(ctx: Ctx, raw_id: str) -> tuple[Any, dict]:
    for project in ctx.site.projects.values():
        for version in project.versions:
            if version["id"] == raw_id:
                return project, version
    raise ApiError(404, f"Could not find version for id '{raw_id}'")


def get_version(ctx: Ctx, raw_id: str) -> Result:
    return Result(body=version_json(_version(ctx, raw_id)[1]), core=1)


DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def update_version(ctx: Ctx, raw_id: str) -> Result:
    project, version = _version(ctx, raw_id)
    payload = ctx.body_dict()
    changes: dict[str, Any] = {}
    if "name" in payload:
        name = payload["name"]
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, [], {"name": "You must specify a valid version name"})
        if any(v["name"] == name and v is not version for v in project.versions):
            raise ApiError(
                400, [], {"name": "A version with this name already exists in this project."}
            )
        changes["name"] = name
    for key in ("releaseDate", "startDate"):
        if key in payload:
            value = payload[key]
            if value is not None and not (isinstance(value, str) and DATE.match(value)):
                raise ApiError(400, [], {key: "The date must be yyyy-MM-dd."})
            changes[key] = value
    for key in ("released", "archived"):
        if key in payload:
            changes[key] = bool(payload[key])
    if "description" in payload:
        changes["description"] = str(payload["description"] or "")
    with ctx.site.lock:
        for key, value in changes.items():
            if value is None:
                version.pop(key, None)
            else:
                version[key] = value
        ctx.site.touch()
    return Result(body=version_json(version))


def _component(ctx: Ctx, raw_id: str) -> tuple[Any, dict]:
    for project in ctx.site.projects.values():
        for component in project.components:
            if component["id"] == raw_id:
                return project, component
    raise ApiError(404, f"The component with id {raw_id} does not exist.")


def get_component(ctx: Ctx, raw_id: str) -> Result:
    return Result(body=component_json(_component(ctx, raw_id)[1], ctx.site), core=1)


def update_component(ctx: Ctx, raw_id: str) -> Result:
    project, component = _component(ctx, raw_id)
    payload = ctx.body_dict()
    if "name" in payload:
        name = payload["name"]
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, [], {"name": "The component name specified is invalid."})
        if any(c["name"] == name and c is not component for c in project.components):
            raise ApiError(
                400, [], {"name": "A component with the name already exists in this project."}
            )
    lead = payload.get("leadAccountId")
    if lead and lead not in ctx.site.members:
        raise ApiError(400, [], {"leadAccountId": "The user does not exist."})
    with ctx.site.lock:
        for key in ("name", "description", "assigneeType"):
            if key in payload:
                component[key] = payload[key]
        if "leadAccountId" in payload:
            if lead:
                component["leadAccountId"] = lead
            else:
                component.pop("leadAccountId", None)
        ctx.site.touch()
    return Result(body=component_json(component, ctx.site))
