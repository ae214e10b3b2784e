"""Jira Cloud REST v3 read endpoints (the writes are in sandbox/writes.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson

from sandbox import catalog, jql, render
from sandbox.api import ApiError, Ctx, Result, offset_page, to_int
from sandbox.attachments import attachment_bytes
from sandbox.clock import iso
from sandbox.content import (
    SUB_ID,
    histories_of,
    issue_doc,
)
from sandbox.model import BASE, BASE_BYTES, Issue, Site

SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
PAGE_TOKEN_TTL = 7 * 86400
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
    from sandbox.content import project_ref

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


def _custom_field(ctx: Ctx, field_id: str) -> dict:
    for custom in ctx.site.custom_fields:
        if custom["id"] == field_id:
            return custom
    raise ApiError(404, "The custom field was not found.")


def field_contexts(ctx: Ctx, field_id: str) -> Result:
    custom = _custom_field(ctx, field_id)
    context_id = catalog.CONTEXT_IDS.get(field_id, "10" + field_id.split("_")[1])
    values = [
        {
            "id": context_id,
            "name": f"Default Configuration Scheme for {custom['name']}",
            "description": "Default configuration scheme generated by Jira",
            "isGlobalContext": True,
            "isAnyIssueType": True,
        }
    ]
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 50, maximum=100)
    page = offset_page(values, start, size, f"/rest/api/3/field/{field_id}/context")
    return Result(body=page, core=len(page["values"]))


def field_context_options(ctx: Ctx, field_id: str, context_id: str) -> Result:
    _custom_field(ctx, field_id)
    if catalog.CONTEXT_IDS.get(field_id) != context_id:
        raise ApiError(404, "The context was not found.")
    options = [
        {"id": oid, "value": value, "disabled": False}
        for oid, value in catalog.CUSTOM_OPTIONS.get(field_id, [])
    ]
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 100, maximum=1000)
    path = f"/rest/api/3/field/{field_id}/context/{context_id}/option"
    page = offset_page(options, start, size, path)
    return Result(body=page, core=len(page["values"]))


def statuses_search(ctx: Ctx) -> Result:
    categories = {"new": "TODO", "indeterminate": "IN_PROGRESS", "done": "DONE"}
    values = [
        {
            "id": sid,
            "name": name,
            "statusCategory": categories[cat],
            "scope": {"type": "GLOBAL"},
            "description": "",
        }
        for sid, name, cat in catalog.STATUSES
    ]
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 200, maximum=200)
    page = offset_page(values, start, size, "/rest/api/3/statuses/search")
    return Result(body=page, core=len(page["values"]))


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


# ------------------------------------------------------------------ search


def search_removed(ctx: Ctx) -> Result:
    raise ApiError(410, SEARCH_REMOVED)


def _search_params(ctx: Ctx) -> dict[str, Any]:
    if ctx.request.method == "GET":
        args = ctx.request.args
        return {
            "jql": args.get("jql"),
            "nextPageToken": args.get("nextPageToken"),
            "maxResults": args.get("maxResults"),
            "fields": args.getlist("fields") or None,
            "expand": args.get("expand"),
            "properties": args.getlist("properties") or None,
        }
    body = ctx.body_dict()
    if isinstance(body.get("expand"), list):
        body["expand"] = ",".join(body["expand"])
    return body


def run_query(ctx: Ctx, text: str | None) -> list[Issue]:
    """Issues matching the JQL, cached per site revision (searches are paged repeatedly)."""
    if not text or not text.strip():
        raise ApiError(400, jql.UNBOUNDED)
    site = ctx.site
    cache_key = (site.rev, text)
    cached = site.query_cache.get(cache_key)
    if cached is not None:
        return cached
    try:
        query = jql.parse(text, site, ctx.now, lambda i: issue_doc(site, i))
    except jql.JqlError as exc:
        raise ApiError(400, str(exc)) from exc
    issues = [i for i in site.live_issues() if query.predicate(i)]
    for field, descending in reversed(query.order):
        issues.sort(key=jql.sort_key(field), reverse=descending)
    site.query_cache.put(cache_key, issues)
    return issues


def _encode_token(ctx: Ctx, offset: int, text: str) -> str:
    payload = {
        "o": offset,
        "q": hashlib.sha1(text.encode()).hexdigest()[:12],
        "e": int(ctx.now + PAGE_TOKEN_TTL),
    }
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _decode_token(ctx: Ctx, token: str, text: str) -> int:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = int(payload["o"])
        same_query = payload["q"] == hashlib.sha1(text.encode()).hexdigest()[:12]
        expired = payload["e"] < ctx.now
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, "The provided next page token is invalid or expired.") from exc
    if not same_query or expired:
        raise ApiError(400, "The provided next page token is invalid or expired.")
    return offset


def _with_issues(ctx: Ctx, items: list[bytes], key: str, extra: dict[str, Any]) -> bytes:
    """Splice cached issue bytes (already based) into a JSON object in one copy."""
    tail = orjson.dumps(extra).replace(BASE_BYTES, ctx.base.encode()) if extra else b"{}"
    parts = [b'{"', key.encode(), b'":[']
    for n, item in enumerate(items):
        if n:
            parts.append(b",")
        parts.append(item)
    parts.append(b"]," + tail[1:] if extra else b"]}")
    return b"".join(parts)


def search_jql(ctx: Ctx) -> Result:
    params = _search_params(ctx)
    text = params.get("jql")
    selection = render.FieldSelection(params.get("fields"), default="id")
    expand = render.parse_list(params.get("expand"))
    properties = render.parse_list(params.get("properties"))
    if len(properties) > 5:
        raise ApiError(400, "The maximum number of properties is 5.")
    cap = 5000 if selection.only_ids and not expand else 100
    size = to_int(params.get("maxResults"), "maxResults", 50, maximum=cap)
    issues = run_query(ctx, text)
    token = params.get("nextPageToken")
    offset = _decode_token(ctx, token, text) if token else 0
    chunk = issues[offset : offset + size]
    base = ctx.base.encode()
    items = [
        render.issue_bytes(ctx.site, i, selection, expand, properties, base=base) for i in chunk
    ]
    is_last = offset + len(chunk) >= len(issues)
    extra: dict[str, Any] = {"isLast": is_last}
    if not is_last:
        extra["nextPageToken"] = _encode_token(ctx, offset + len(chunk), text)
    if "names" in expand or "schema" in expand:
        sample = {}
        for issue in chunk:
            for name, value in issue_doc(ctx.site, issue)["fields"].items():
                if selection.wants(name):
                    sample[name] = value
        if "names" in expand:
            extra["names"] = render.field_names(ctx.site, sample)
        if "schema" in expand:
            extra["schema"] = render.field_schemas(ctx.site, sample)
    return Result(body=_with_issues(ctx, items, "issues", extra), core=len(chunk), based=True)


def approximate_count(ctx: Ctx) -> Result:
    body = ctx.body_dict()
    return Result(body={"count": len(run_query(ctx, body.get("jql")))})


def bulkfetch(ctx: Ctx) -> Result:
    body = ctx.body_dict()
    refs = body.get("issueIdsOrKeys")
    if not isinstance(refs, list) or not refs:
        raise ApiError(400, "issueIdsOrKeys must contain at least one issue.")
    if len(refs) > 100:
        raise ApiError(400, "The number of issueIdsOrKeys must be 100 or fewer.")
    selection = render.FieldSelection(body.get("fields"), default="*navigable")
    expand = render.parse_list(body.get("expand"))
    properties = render.parse_list(body.get("properties"))
    found, errors = [], []
    for ref in refs:
        issue = ctx.site.issue(str(ref))
        if issue is None:
            errors.append(
                {
                    "id": str(ref),
                    "errorMessage": "Issue does not exist or you do not have permission to see it.",
                }
            )
        else:
            found.append(issue)
    found = sorted({i.id: i for i in found}.values(), key=lambda i: i.id)
    base = ctx.base.encode()
    items = [
        render.issue_bytes(ctx.site, i, selection, expand, properties, base=base) for i in found
    ]
    body = _with_issues(ctx, items, "issues", {"issueErrors": errors})
    return Result(body=body, core=len(found), based=True)


def issue_get(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    selection = render.FieldSelection(ctx.request.args.getlist("fields") or None, default="*all")
    expand = render.parse_list(ctx.arg("expand"))
    properties = render.parse_list(ctx.request.args.getlist("properties") or None)
    base = ctx.base.encode()
    body = render.issue_bytes(ctx.site, issue, selection, expand, properties, cap=100, base=base)
    return Result(body=body, core=1, based=True)


# ------------------------------------------------------------------ issue parts


def changelog(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    histories = histories_of(ctx.site, issue)
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 100, maximum=100)
    page = offset_page(histories, start, size, f"/rest/api/3/issue/{issue.key}/changelog")
    return Result(body=page, core=len(page["values"]))


def changelog_bulkfetch(ctx: Ctx) -> Result:
    body = ctx.body_dict()
    refs = body.get("issueIdsOrKeys")
    if not isinstance(refs, list) or not refs or len(refs) > 1000:
        raise ApiError(400, "issueIdsOrKeys must contain between 1 and 1000 issues.")
    size = to_int(body.get("maxResults"), "maxResults", 1000, maximum=10000, minimum=1)
    field_ids = set(body.get("fieldIds") or [])
    token = body.get("nextPageToken")
    offset = 0
    if token:
        try:
            offset = int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
        except ValueError as exc:
            raise ApiError(400, "The provided next page token is invalid.") from exc
    issues = sorted(
        {i.id: i for i in (ctx.site.issue(str(r)) for r in refs) if i}.values(), key=lambda i: i.id
    )
    flat = []
    for issue in issues:
        for history in histories_of(ctx.site, issue):
            if field_ids:
                items = [it for it in history["items"] if it.get("fieldId") in field_ids]
                if not items:
                    continue
                history = {**history, "items": items}
            flat.append((issue.id, history))
    chunk = flat[offset : offset + size]
    grouped: dict[int, list] = {}
    for issue_id, history in chunk:
        grouped.setdefault(issue_id, []).append(history)
    result: dict[str, Any] = {
        "issueChangeLogs": [{"issueId": str(k), "changeHistories": v} for k, v in grouped.items()]
    }
    if offset + len(chunk) < len(flat):
        result["nextPageToken"] = base64.urlsafe_b64encode(
            str(offset + len(chunk)).encode()
        ).decode()
    return Result(body=result, core=len(chunk))


def comments(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    items = list(issue_doc(ctx.site, issue)["comments"])
    if ctx.arg("orderBy") in ("-created", "-created "):
        items.reverse()
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 100, maximum=100)
    chunk = items[start : start + size]
    body = {"startAt": start, "maxResults": size, "total": len(items), "comments": chunk}
    return Result(body=body, core=len(chunk))


def _by_sub_id(ctx: Ctx, ids: Any, part: str) -> list[dict]:
    if not isinstance(ids, list) or len(ids) > 1000:
        raise ApiError(400, "ids must be a list of at most 1000 ids.")
    found = []
    for raw in ids:
        try:
            sub_id = int(raw)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, f"Invalid id {raw!r}.") from exc
        issue = ctx.site.issue(str(sub_id // SUB_ID))
        if issue is None:
            continue
        for item in issue_doc(ctx.site, issue)[part]:
            if item["id"] == str(sub_id):
                found.append(item)
    return found


def comment_list(ctx: Ctx) -> Result:
    found = _by_sub_id(ctx, ctx.body_dict().get("ids"), "comments")
    page = offset_page(found, 0, 1000, "/rest/api/3/comment/list")
    return Result(body=page, core=len(found))


def worklogs(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    items = issue_doc(ctx.site, issue)["worklogs"]
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 5000, maximum=5000)
    chunk = items[start : start + size]
    body = {"startAt": start, "maxResults": size, "total": len(items), "worklogs": chunk}
    return Result(body=body, core=len(chunk))


def _parse_ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)


def worklog_updated(ctx: Ctx) -> Result:
    since = ctx.int_arg("since", 0)
    changes = []
    for issue in ctx.site.live_issues():
        for worklog in issue_doc(ctx.site, issue)["worklogs"]:
            updated = _parse_ms(worklog["updated"])
            if updated > since:
                changes.append((updated, int(worklog["id"])))
    changes.sort()
    chunk = changes[:1000]
    last = len(chunk) == len(changes)
    until = chunk[-1][0] if chunk else since
    body: dict[str, Any] = {
        "values": [{"worklogId": wid, "updatedTime": ms, "properties": []} for ms, wid in chunk],
        "since": since,
        "until": until,
        "self": f"{BASE}/rest/api/3/worklog/updated?since={since}",
        "lastPage": last,
    }
    if not last:
        body["nextPage"] = f"{BASE}/rest/api/3/worklog/updated?since={until}"
    return Result(body=body, core=len(chunk))


def worklog_list(ctx: Ctx) -> Result:
    found = _by_sub_id(ctx, ctx.body_dict().get("ids"), "worklogs")
    return Result(body=found, core=len(found))


def remote_links(ctx: Ctx, ref: str) -> Result:
    items = issue_doc(ctx.site, ctx.issue(ref))["remotelinks"]
    return Result(body=items, core=len(items))


def properties(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    keys = [
        {"key": k, "self": f"{BASE}/rest/api/3/issue/{issue.id}/properties/{k}"}
        for k in issue_doc(ctx.site, issue)["properties"]
    ]
    return Result(body={"keys": keys}, core=len(keys))


def property_get(ctx: Ctx, ref: str, prop: str) -> Result:
    issue = ctx.issue(ref)
    props = issue_doc(ctx.site, issue)["properties"]
    if prop not in props:
        raise ApiError(404, f"The property with key '{prop}' does not exist.")
    return Result(body={"key": prop, "value": props[prop]}, core=1)


# ------------------------------------------------------------------ attachments


def find_attachment(site: Site, raw_id: str) -> tuple[Issue, dict]:
    if not raw_id.isdigit():
        raise ApiError(404, "The attachment with id does not exist.")
    att_id = int(raw_id)
    issue = site.issue(str(att_id // SUB_ID))
    if issue is not None:
        for attachment in issue_doc(site, issue)["attachments"]:
            if attachment["id"] == raw_id:
                return issue, attachment
    raise ApiError(404, f"The attachment with id '{raw_id}' does not exist")


def attachment_meta(ctx: Ctx, raw_id: str) -> Result:
    _issue, attachment = find_attachment(ctx.site, raw_id)
    body = {**attachment, "id": int(attachment["id"])}
    return Result(body=body, core=1)


def attachment_content_bytes(site: Site, attachment: dict) -> bytes:
    att_id = int(attachment["id"])
    if att_id in site.uploads:
        return site.uploads[att_id]
    return attachment_bytes(site.seed, att_id, attachment["mimeType"], attachment["size"])


def media_signature(state, site: Site, att_id: str) -> str:
    key = f"{state.seed}/media".encode()
    return hmac.new(key, f"{site.cloud_id}/{att_id}".encode(), hashlib.sha256).hexdigest()[:32]


def attachment_content(ctx: Ctx, raw_id: str) -> Result:
    _issue, attachment = find_attachment(ctx.site, raw_id)
    if ctx.arg("redirect", "true").lower() != "false":
        # Atlassian redirects to its media service; the sandbox serves that from /_media/.
        signature = media_signature(ctx.state, ctx.site, raw_id)
        location = f"{ctx.request.host_url.rstrip('/')}/_media/{ctx.site.cloud_id}/{raw_id}?token={signature}"
        return Result(
            status=303, body=b"", core=1, headers={"Location": location}, mimetype="text/plain"
        )
    content = attachment_content_bytes(ctx.site, attachment)
    status, body, headers = ranged(ctx.request.headers.get("Range"), content)
    return Result(
        status=status, body=body, core=1, headers=headers, mimetype=attachment["mimeType"]
    )


def ranged(range_header: str | None, content: bytes) -> tuple[int, bytes, dict[str, str]]:
    """200 with the whole content, 206 with one byte range, or 416."""
    headers = {"Accept-Ranges": "bytes"}
    if not range_header:
        return 200, content, headers
    total = len(content)
    try:
        unit, spec = range_header.split("=", 1)
        start_text, end_text = spec.split(",")[0].strip().split("-", 1)
        if unit.strip() != "bytes":
            raise ValueError
        if start_text == "":
            start, end = max(0, total - int(end_text)), total - 1
        else:
            start = int(start_text)
            end = min(int(end_text), total - 1) if end_text else total - 1
        if start > end or start >= total:
            raise ValueError
    except ValueError:
        return 416, b"", {"Content-Range": f"bytes */{total}"}
    headers["Content-Range"] = f"bytes {start}-{end}/{total}"
    return 206, content[start : end + 1], headers
