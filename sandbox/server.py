"""The WSGI app: routing, credentials, rate limits, faults and the request log; and `start()`.

Everything is served from one host: auth.atlassian.com (`/authorize`, `/oauth/token`),
api.atlassian.com (`/oauth/token/accessible-resources`, `/me`, `/ex/jira/{cloudid}/...`), each
site's own URL (`/site/{name}/...`, Basic auth only), the media service (`/_media/...`) and the
control API (`/_sandbox/...`).
"""

from __future__ import annotations

import base64
import binascii
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from sandbox import (
    agile,
    auth,
    config_api,
    control,
    edits,
    jira,
    media,
    parts,
    schemes,
    search,
    workflows,
    writes,
)
from sandbox.api import ApiError, Ctx, RateLimitedError, Result
from sandbox.model import BASE_BYTES, Site, User
from sandbox.ratelimit import API_TOKEN_POOL
from sandbox.requestlog import RequestRecord
from sandbox.state import SandboxState

READ_WORK = ("read:jira-work",)
READ_USER = ("read:jira-user", "read:jira-work")
WRITE_WORK = ("write:jira-work",)
MANAGE_PROJECT = ("manage:jira-project",)
CONFIG = ("read:jira-work", "manage:jira-configuration")
ADMIN_CONFIG = ("manage:jira-configuration",)


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    handler: Callable[..., Result]
    name: str
    scopes: tuple[str, ...]  # any one of these (classic scopes)
    write: bool = False
    all_scopes: tuple[str, ...] = ()  # every one of these (granular scopes)

    def allows(self, granted: frozenset[str]) -> bool:
        if self.all_scopes:
            return all(s in granted for s in self.all_scopes)
        return any(s in granted for s in self.scopes)


def _route(
    method: str,
    template: str,
    handler,
    scopes,
    write: bool = False,
    name: str | None = None,
    all_scopes: tuple[str, ...] = (),
) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    route_name = name or re.sub(r"/?\{\w+\}", "", template).replace("/", "-") or template
    return Route(method, re.compile(regex + "$"), handler, route_name, scopes, write, all_scopes)


def _agile(method: str, template: str, handler, scopes: str, write: bool = False) -> Route:
    """A Jira Software route: every listed granular scope is needed (Atlassian's reference)."""
    return _route(
        method,
        template,
        handler,
        (),
        write,
        name="agile-" + re.sub(r"/?\{\w+\}", "", template).replace("/", "-"),
        all_scopes=tuple(scopes.split()),
    )


# Templates are relative to /rest/api/3/. Route names key the burst buckets.
JIRA_ROUTES = [
    _route("GET", "myself", jira.myself, READ_USER),
    _route("GET", "mypermissions", jira.mypermissions, READ_USER),
    _route("GET", "serverInfo", jira.server_info, READ_WORK),
    _route("GET", "project/search", jira.project_search, READ_WORK),
    _route("GET", "project/{ref}", jira.project_get, READ_WORK),
    _route("GET", "project/{ref}/components", jira.project_components, READ_WORK),
    _route("GET", "project/{ref}/versions", jira.project_versions, READ_WORK),
    _route("GET", "project/{ref}/version", jira.project_versions_page, READ_WORK),
    _route("GET", "project/{ref}/role", jira.project_roles, READ_WORK),
    _route("GET", "project/{ref}/role/{role_id}", jira.project_role, READ_WORK),
    _route("GET", "field", jira.fields, READ_WORK),
    _route("GET", "field/{field_id}/context", config_api.field_contexts, CONFIG),
    _route(
        "GET",
        "field/{field_id}/context/{context_id}/option",
        config_api.field_context_options,
        CONFIG,
    ),
    _route("GET", "statuses/search", workflows.statuses_search, READ_WORK),
    _route("GET", "issuetype", jira.issue_types, READ_WORK),
    _route("GET", "priority/search", jira.priority_search, READ_WORK),
    _route("GET", "issueLinkType", jira.issue_link_types, READ_WORK),
    _route("GET", "users/search", jira.users_search, READ_USER),
    _route("GET", "search", search.search_removed, READ_WORK),
    _route("POST", "search", search.search_removed, READ_WORK),
    _route("GET", "search/jql", search.search_jql, READ_WORK),
    _route("POST", "search/jql", search.search_jql, READ_WORK),
    _route("POST", "search/approximate-count", search.approximate_count, READ_WORK),
    _route("POST", "issue/bulkfetch", search.bulkfetch, READ_WORK),
    _route("POST", "issue/bulk", writes.create_issues_bulk, WRITE_WORK, write=True),
    _route("POST", "issue", writes.create_issue, WRITE_WORK, write=True),
    _route("GET", "issue/{ref}", search.issue_get, READ_WORK),
    _route("GET", "issue/{ref}/changelog", parts.changelog, READ_WORK),
    _route("POST", "changelog/bulkfetch", parts.changelog_bulkfetch, READ_WORK),
    _route("GET", "issue/{ref}/comment", parts.comments, READ_WORK),
    _route("POST", "issue/{ref}/comment", writes.add_comment, WRITE_WORK, write=True),
    _route("POST", "comment/list", parts.comment_list, READ_WORK),
    _route("GET", "issue/{ref}/worklog", parts.worklogs, READ_WORK),
    _route("POST", "issue/{ref}/worklog", writes.add_worklog, WRITE_WORK, write=True),
    _route("GET", "worklog/updated", parts.worklog_updated, READ_WORK),
    _route("POST", "worklog/list", parts.worklog_list, READ_WORK),
    _route("GET", "issue/{ref}/remotelink", parts.remote_links, READ_WORK),
    _route("POST", "issue/{ref}/remotelink", writes.add_remote_link, WRITE_WORK, write=True),
    _route("GET", "issue/{ref}/properties", parts.properties, READ_WORK),
    _route("GET", "issue/{ref}/properties/{prop}", parts.property_get, READ_WORK),
    _route("PUT", "issue/{ref}/properties/{prop}", writes.set_property, WRITE_WORK, write=True),
    _route("POST", "issue/{ref}/attachments", writes.add_attachments, WRITE_WORK, write=True),
    _route("GET", "attachment/{att_id}", parts.attachment_meta, READ_WORK),
    _route("GET", "attachment/content/{att_id}", parts.attachment_content, READ_WORK),
    _route("POST", "issueLink", writes.add_issue_link, WRITE_WORK, write=True),
    _route("POST", "version", writes.create_version, MANAGE_PROJECT, write=True),
    _route("POST", "component", writes.create_component, MANAGE_PROJECT, write=True),
    _route("POST", "project", writes.create_project, MANAGE_PROJECT, write=True),
    # workflows and transitions
    _route("GET", "issue/{ref}/transitions", workflows.get_transitions, READ_WORK),
    _route("POST", "issue/{ref}/transitions", workflows.do_transition, WRITE_WORK, write=True),
    _route("GET", "workflows/search", workflows.workflows_search, ADMIN_CONFIG),
    _route("GET", "workflowscheme", workflows.workflow_schemes, ADMIN_CONFIG),
    _route("GET", "workflowscheme/project", workflows.workflow_scheme_projects, ADMIN_CONFIG),
    _route("PUT", "workflowscheme/project", workflows.assign_workflow_scheme, ADMIN_CONFIG, True),
    _route("GET", "workflowscheme/{scheme_id}", workflows.workflow_scheme, ADMIN_CONFIG),
    _route("GET", "project/{ref}/statuses", workflows.project_statuses, READ_WORK),
    _route("GET", "resolution/search", workflows.resolution_search, READ_WORK),
    # edits and deletions
    _route("PUT", "issue/{ref}", edits.edit_issue, WRITE_WORK, write=True),
    _route("DELETE", "issue/{ref}", edits.delete_issue, WRITE_WORK, write=True),
    _route("GET", "issue/{ref}/comment/{comment_id}", edits.get_comment, READ_WORK),
    _route("PUT", "issue/{ref}/comment/{comment_id}", edits.edit_comment, WRITE_WORK, True),
    _route("DELETE", "issue/{ref}/comment/{comment_id}", edits.delete_comment, WRITE_WORK, True),
    _route("GET", "issue/{ref}/worklog/{worklog_id}", edits.get_worklog, READ_WORK),
    _route("DELETE", "issue/{ref}/worklog/{worklog_id}", edits.delete_worklog, WRITE_WORK, True),
    _route("DELETE", "attachment/{att_id}", edits.delete_attachment, WRITE_WORK, write=True),
    _route("GET", "issueLink/{link_id}", edits.get_issue_link, READ_WORK),
    _route("DELETE", "issueLink/{link_id}", edits.delete_issue_link, WRITE_WORK, write=True),
    _route("GET", "issue/{ref}/remotelink/{link_id}", edits.get_remote_link, READ_WORK),
    _route(
        "DELETE", "issue/{ref}/remotelink/{link_id}", edits.delete_remote_link, WRITE_WORK, True
    ),
    _route("DELETE", "issue/{ref}/properties/{prop}", edits.delete_property, WRITE_WORK, True),
    # configuration
    _route("POST", "field/{field_id}/context", config_api.create_context, ADMIN_CONFIG, True),
    _route(
        "GET",
        "field/{field_id}/context/issuetypemapping",
        config_api.context_issue_type_mapping,
        ADMIN_CONFIG,
    ),
    _route(
        "GET",
        "field/{field_id}/context/projectmapping",
        config_api.context_project_mapping,
        ADMIN_CONFIG,
    ),
    _route(
        "POST",
        "field/{field_id}/context/{context_id}/option",
        config_api.create_options,
        ADMIN_CONFIG,
        True,
    ),
    _route(
        "PUT",
        "field/{field_id}/context/{context_id}/option",
        config_api.update_options,
        ADMIN_CONFIG,
        True,
    ),
    _route(
        "DELETE",
        "field/{field_id}/context/{context_id}/option/{option_id}",
        config_api.delete_option,
        ADMIN_CONFIG,
        True,
    ),
    _route("GET", "issuetypescheme", schemes.issue_type_schemes, ADMIN_CONFIG),
    _route("GET", "issuetypescheme/mapping", schemes.issue_type_scheme_mapping, ADMIN_CONFIG),
    _route("GET", "issuetypescheme/project", schemes.issue_type_scheme_projects, ADMIN_CONFIG),
    _route("GET", "issuetypescreenscheme", schemes.issue_type_screen_schemes, ADMIN_CONFIG),
    _route(
        "GET",
        "issuetypescreenscheme/mapping",
        schemes.issue_type_screen_scheme_mapping,
        ADMIN_CONFIG,
    ),
    _route(
        "GET",
        "issuetypescreenscheme/project",
        schemes.issue_type_screen_scheme_projects,
        ADMIN_CONFIG,
    ),
    _route("GET", "screens", schemes.screens, MANAGE_PROJECT),
    _route("GET", "screens/{screen_id}/tabs", schemes.screen_tabs, MANAGE_PROJECT),
    _route(
        "GET", "screens/{screen_id}/tabs/{tab_id}/fields", schemes.screen_tab_fields, MANAGE_PROJECT
    ),
    _route("GET", "screenscheme", schemes.screen_schemes, MANAGE_PROJECT),
    _route("GET", "fieldconfiguration", schemes.field_configurations, ADMIN_CONFIG),
    _route(
        "GET",
        "fieldconfiguration/{configuration_id}/fields",
        schemes.field_configuration_items,
        ADMIN_CONFIG,
    ),
    _route("GET", "fieldconfigurationscheme", schemes.field_configuration_schemes, ADMIN_CONFIG),
    _route(
        "GET",
        "fieldconfigurationscheme/mapping",
        schemes.field_configuration_scheme_mapping,
        ADMIN_CONFIG,
    ),
    _route(
        "GET",
        "fieldconfigurationscheme/project",
        schemes.field_configuration_scheme_projects,
        ADMIN_CONFIG,
    ),
    _route("GET", "permissionscheme", schemes.permission_schemes, READ_WORK),
    _route("GET", "permissionscheme/{scheme_id}", schemes.permission_scheme_get, READ_WORK),
    _route("GET", "project/{ref}/permissionscheme", schemes.project_permission_scheme, READ_WORK),
    _route("GET", "notificationscheme", schemes.notification_schemes, ADMIN_CONFIG),
    _route("GET", "notificationscheme/{scheme_id}", schemes.notification_scheme_get, ADMIN_CONFIG),
    _route(
        "GET", "project/{ref}/notificationscheme", schemes.project_notification_scheme, READ_WORK
    ),
    _route("GET", "issuesecurityschemes", schemes.security_schemes, MANAGE_PROJECT),
    _route("GET", "issuesecurityschemes/{scheme_id}", schemes.security_scheme_get, MANAGE_PROJECT),
    _route(
        "GET", "project/{ref}/issuesecuritylevelscheme", schemes.project_security_scheme, READ_WORK
    ),
    _route("GET", "role", schemes.roles, ADMIN_CONFIG),
    _route("POST", "project/{ref}/role/{role_id}", config_api.add_role_actors, ADMIN_CONFIG, True),
    _route("GET", "version/{raw_id}", config_api.get_version, READ_WORK),
    _route("PUT", "version/{raw_id}", config_api.update_version, MANAGE_PROJECT, True),
    _route("GET", "component/{raw_id}", config_api.get_component, READ_WORK),
    _route("PUT", "component/{raw_id}", config_api.update_component, MANAGE_PROJECT, True),
    _route("GET", "filter/search", config_api.filter_search, READ_WORK),
    _route("POST", "filter", config_api.create_filter, WRITE_WORK, write=True),
    _route("GET", "filter/{filter_id}", config_api.get_filter, READ_WORK),
    _route("PUT", "filter/{filter_id}", config_api.update_filter, WRITE_WORK, write=True),
    _route("DELETE", "filter/{filter_id}", config_api.delete_filter, WRITE_WORK, write=True),
    _route("GET", "dashboard", config_api.dashboards, READ_WORK),
    _route("POST", "dashboard", config_api.create_dashboard, WRITE_WORK, write=True),
    _route("GET", "dashboard/search", config_api.dashboard_search, READ_WORK),
    _route("GET", "dashboard/{dashboard_id}", config_api.get_dashboard, READ_WORK),
    _route("GET", "dashboard/{dashboard_id}/gadget", config_api.gadgets, READ_WORK),
    _route(
        "POST",
        "dashboard/{dashboard_id}/gadget",
        config_api.add_gadget,
        (),
        write=True,
        all_scopes=("write:jira-work", "read:jira-work"),
    ),
]
R = "read:board-scope:jira-software read:issue-details:jira"
AGILE_ROUTES = [
    _agile("GET", "board", agile.boards, "read:board-scope:jira-software read:project:jira"),
    _agile("GET", "board/{board_id}", agile.board, R),
    _agile(
        "GET",
        "board/{board_id}/configuration",
        agile.board_configuration,
        "read:board-scope.admin:jira-software read:project:jira",
    ),
    _agile("GET", "board/{board_id}/sprint", agile.board_sprints, "read:sprint:jira-software"),
    _agile("GET", "board/{board_id}/issue", agile.board_issues, R),
    _agile("GET", "board/{board_id}/backlog", agile.board_backlog, R),
    _agile("GET", "board/{board_id}/epic", agile.board_epics, "read:epic:jira-software"),
    _agile("GET", "epic/{ref}", agile.epic, "read:epic:jira-software"),
    _agile(
        "GET",
        "epic/{ref}/issue",
        agile.epic_issues,
        "read:epic:jira-software read:issue-details:jira read:jql:jira",
    ),
    _agile("POST", "sprint", agile.create_sprint, "write:sprint:jira-software", write=True),
    _agile("GET", "sprint/{sprint_id}", agile.sprint, "read:sprint:jira-software"),
    _agile("POST", "sprint/{sprint_id}", agile.update_sprint, "write:sprint:jira-software", True),
    _agile("PUT", "sprint/{sprint_id}", agile.update_sprint, "write:sprint:jira-software", True),
    _agile(
        "GET",
        "sprint/{sprint_id}/issue",
        agile.sprint_issues,
        "read:sprint:jira-software read:issue-details:jira read:jql:jira",
    ),
    _agile(
        "POST",
        "sprint/{sprint_id}/issue",
        agile.move_to_sprint,
        "write:sprint:jira-software",
        write=True,
    ),
    _agile(
        "POST",
        "backlog/issue",
        agile.move_to_backlog,
        "write:board-scope:jira-software",
        write=True,
    ),
    _agile("PUT", "issue/rank", agile.rank_issues, "write:issue:jira-software", write=True),
]
API_PREFIX = "/rest/api/3/"
AGILE_PREFIX = "/rest/agile/1.0/"
EX_JIRA = re.compile(r"^/ex/jira/(?P<cloud>[^/]+)(?P<rest>/.*)?$")
SITE = re.compile(r"^/site/(?P<name>[^/]+)(?P<rest>/.*)?$")
MEDIA = re.compile(r"^/_media/(?P<cloud>[^/]+)/file/(?P<file>[0-9a-f-]+)/binary$")


def _json_error(status: int, body: object, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body), status=status, headers=headers, mimetype="application/json")


def credential_kind(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme = header.split(" ", 1)[0].lower()
    return {"bearer": "bearer", "basic": "basic"}.get(scheme, "none")


class SandboxApp:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    # -------------------------------------------------------------- WSGI entry

    def __call__(self, environ, start_response):
        request = Request(environ)
        path = request.path
        if path.startswith("/_sandbox/"):
            return control.dispatch(self.state, request)(environ, start_response)
        record = {"credential": credential_kind(request)}
        response = self._faulted(request, record, environ)
        if response is None:
            response = self._route(request, record)
        self._log(request, record, response.status_code)
        return response(environ, start_response)

    def _log(self, request: Request, record: dict, status: int) -> None:
        self.state.request_log.append(
            RequestRecord(
                time=self.state.clock.time(),
                method=request.method,
                path=request.path,
                credential=record["credential"],
                status=status,
                points=record.get("points", 0),
                client_id=record.get("client_id"),
                account_id=record.get("account_id"),
                site_cloud_id=record.get("site"),
                reason=record.get("reason"),
            )
        )

    def _faulted(self, request: Request, record: dict, environ) -> Response | None:
        is_token = request.path == "/oauth/token" and request.method == "POST"
        fault = self.state.faults.decide(request.path, is_token_endpoint=is_token)
        if fault is None:
            return None
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop:
            record["reason"] = "fault:dropped"
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._log(request, record, 0)
            raise _Dropped()
        if fault.garbled:
            record["reason"] = f"fault:garbled-{fault.garbled}"
            if fault.garbled == "html":
                page = b"<html><body><h1>Down for maintenance</h1></body></html>"
                return Response(page, status=200, mimetype="text/html")
            return Response(b'{"issues": [{"id": "1', status=200, mimetype="application/json")
        if fault.status is None:
            return None
        record["reason"] = f"fault:{fault.status}"
        headers = {}
        if fault.status in (429, 503) and fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.status == 429:
            headers["RateLimit-Reason"] = "jira-burst-based"
        body = {"errorMessages": [f"Sandbox fault: HTTP {fault.status}"], "errors": {}}
        if is_token:
            body = {"error": "temporarily_unavailable", "error_description": "Service Unavailable"}
        return _json_error(fault.status, body, headers)

    # -------------------------------------------------------------- routing

    def _route(self, request: Request, record: dict) -> Response:
        path, method, state = request.path, request.method, self.state
        if path in ("/authorize", "/authorize/") and method in ("GET", "POST"):
            return auth.authorize(state, request)
        if path == "/oauth/token" and method == "POST":
            return auth.token(state, request)
        if path == "/oauth/token/accessible-resources" and method == "GET":
            return auth.accessible_resources(state, request)
        if path == "/me" and method == "GET":
            return auth.me(state, request)
        match = EX_JIRA.match(path)
        if match:
            return self._jira_bearer(request, record, match["cloud"], match["rest"] or "/")
        match = SITE.match(path)
        if match:
            return self._jira_basic(request, record, match["name"], match["rest"] or "/")
        match = MEDIA.match(path)
        if match and method == "GET":
            return self._media(request, match["cloud"], match["file"])
        if path == "/" and method == "GET":
            return self._index()
        return _json_error(404, {"errorMessages": [f"null for uri: {request.url}"], "errors": {}})

    def _jira_bearer(self, request: Request, record: dict, cloud_id: str, rest: str) -> Response:
        state = self.state
        if record["credential"] != "bearer":
            # api.atlassian.com only accepts OAuth 2.0 bearer tokens.
            return auth.unauthorized()
        found = auth.authenticate_bearer(state, auth.bearer_token(request) or "")
        if found is None:
            return auth.unauthorized()
        access, grant = found
        record.update(client_id=access.client_id, account_id=access.account_id, site=cloud_id)
        site = state.sites.get(cloud_id)
        if site is None or site.deleted:
            response = _json_error(
                404, {"errorMessages": ["Site temporarily unavailable"], "errors": {}}
            )
        elif cloud_id not in grant.site_ids:
            response = auth.unauthorized()
        else:
            user = state.users[access.account_id]
            response = self._jira(
                request, record, site, user, rest, access.client_id, access.scopes
            )
        self._with_policy(response, access.client_id, cloud_id)
        return response

    def _with_policy(self, response: Response, client_id: str, cloud_id: str) -> None:
        """Every answer to an app names its quota pool (`RateLimit-Policy`: global-app-quota on
        Tier 1, tenant-app-quota on a Tier 2 site), errors and 429s of any kind included; a
        429's own limit headers are kept."""
        headers = self.state.limiter.quota_headers(client_id, cloud_id, self.state.clock.time())
        for name, value in headers.items():
            if name not in response.headers:
                response.headers[name] = value

    def _jira_basic(self, request: Request, record: dict, name: str, rest: str) -> Response:
        state = self.state
        site = state.sites_by_name(name)
        if site is None or site.deleted:
            return _json_error(404, {"errorMessages": ["Site not found"], "errors": {}})
        record["site"] = site.cloud_id
        if record["credential"] == "none" and rest.rstrip("/") == API_PREFIX + "serverInfo":
            # Jira answers serverInfo anonymously (the portal uses it to check a site URL).
            ctx = Ctx(state, site, None, request, "none", base=f"{request.host_url}site/{name}")
            result = jira.server_info(ctx)
            state.ledger.record(state.clock.time(), API_TOKEN_POOL, site.cloud_id, None, 1)
            record["points"] = 1
            return Response(orjson.dumps(result.body), mimetype="application/json")
        user = self._basic_user(request)
        if user is None or user.account_id not in site.members:
            # A site URL never accepts 3LO bearer tokens, only Basic email:API token.
            return _json_error(
                401,
                {
                    "errorMessages": ["Client must be authenticated to access this resource."],
                    "errors": {},
                },
                {"WWW-Authenticate": 'Basic realm="protected-area"'},
            )
        record["account_id"] = user.account_id
        return self._jira(request, record, site, user, rest, None, None)

    def _basic_user(self, request: Request) -> User | None:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            email, _, token = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        account_id = self.state.api_tokens.get(token)
        user = self.state.users.get(account_id or "")
        if user is None or user.email != email.lower():
            return None
        return user

    def _jira(
        self,
        request: Request,
        record: dict,
        site: Site,
        user: User,
        rest: str,
        client_id: str | None,
        scopes: frozenset[str] | None,
    ) -> Response:
        state = self.state
        if rest.startswith(API_PREFIX):
            table, sub = JIRA_ROUTES, rest[len(API_PREFIX) :].rstrip("/")
        elif rest.startswith(AGILE_PREFIX):
            table, sub = AGILE_ROUTES, rest[len(AGILE_PREFIX) :].rstrip("/")
        else:
            return _json_error(
                404, {"errorMessages": [f"null for uri: {request.url}"], "errors": {}}
            )
        route, params, allowed = None, {}, False
        for candidate in table:
            match = candidate.pattern.match(sub)
            if match:
                allowed = True
                if candidate.method == request.method:
                    route, params = candidate, match.groupdict()
                    break
        if route is None:
            status = 405 if allowed else 404
            return _json_error(
                status, {"errorMessages": [f"null for uri: {request.url}"], "errors": {}}
            )
        if scopes is not None and not route.allows(scopes):
            return auth.unauthorized("Unauthorized; scope does not match")

        now = state.clock.time()
        limiter = state.limiter
        headers: dict[str, str] = {}
        if client_id is not None:
            limited = limiter.check_quota(client_id, site.cloud_id, now) or limiter.check_burst(
                site.cloud_id, route.name, request.method, now
            )
            if limited is not None:
                record["reason"] = limited.reason
                return _json_error(
                    429,
                    {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                    limited.headers(now),
                )

        base = request.host_url.rstrip("/") + (
            f"/ex/jira/{site.cloud_id}" if client_id is not None else f"/site/{site.name}"
        )
        ctx = Ctx(state, site, user, request, record["credential"], client_id, scopes, base)
        try:
            result = route.handler(ctx, *params.values())
        except RateLimitedError as exc:
            record["reason"] = exc.limited.reason
            return _json_error(429, exc.body, exc.headers)
        except ApiError as exc:
            result = Result(status=exc.status, body=exc.body, headers=exc.headers)

        # Points: writes cost 1; reads 1 + 1 per core object + 2 per identity object.
        points = 1 if route.write or result.status >= 400 else 1 + result.core + 2 * result.identity
        record["points"] = points
        if client_id is not None:
            pool = limiter.charge(client_id, site.cloud_id, points, now)
            state.ledger.record(now, pool, site.cloud_id, client_id, points)
            headers.update(limiter.quota_headers(client_id, site.cloud_id, now))
        else:
            state.ledger.record(now, API_TOKEN_POOL, site.cloud_id, None, points)
        headers.update(result.headers)

        body = result.body
        if not isinstance(body, bytes):
            body = b"" if body is None else orjson.dumps(body)
        if not result.based and BASE_BYTES in body:
            body = body.replace(BASE_BYTES, base.encode())
        return Response(body, status=result.status, headers=headers, mimetype=result.mimetype)

    def _media(self, request: Request, cloud_id: str, file_id: str) -> Response:
        site = self.state.sites.get(cloud_id)
        if site is None or site.deleted:
            return _json_error(404, {"error": "not found"})
        if request.args.get("token") != parts.media_signature(self.state, site, file_id):
            return _json_error(401, {"error": "invalid or missing media token"})
        att_id = media.attachment_id_of(site, file_id)
        try:
            _issue, attachment = parts.find_attachment(site, str(att_id))
        except ApiError as exc:
            return _json_error(exc.status, exc.body)
        content = parts.attachment_content_bytes(site, attachment)
        status, body, headers = parts.ranged(request.headers.get("Range"), content)
        headers["Content-Disposition"] = f'attachment; filename="{attachment["filename"]}"'
        return Response(body, status=status, headers=headers, mimetype=attachment["mimeType"])

    def _index(self) -> Response:
        summary = self.state.summary()
        lines = [
            f"<li>{s['name']}: <code>{s['cloud_id']}</code> {s['url']}</li>"
            for s in summary["sites"]
        ]
        html = (
            "<!doctype html><html lang='en'><head><title>Atlassian sandbox</title></head><body>"
            "<h1>Atlassian sandbox</h1><ul>" + "".join(lines) + "</ul>"
            "<p>Control API: <a href='/_sandbox/state'>/_sandbox/state</a></p></body></html>"
        )
        return Response(html, mimetype="text/html")


class _Dropped(ConnectionError):
    """Raised to abandon a request whose socket a fault already closed; werkzeug treats a
    ConnectionError as a dropped connection and writes nothing more."""


class _Handler(WSGIRequestHandler):
    """No per-request logging: the request log is the sandbox's own."""

    # Responses go out in several writes; with Nagle's algorithm each keep-alive request then
    # stalls ~40 ms on the client's delayed ACK, which Atlassian's edge does not do.
    disable_nagle_algorithm = True

    def log_request(self, *args, **kwargs) -> None:
        pass

    def log_error(self, *args, **kwargs) -> None:
        pass


@dataclass
class RunningSandbox:
    url: str
    state: SandboxState
    server: object
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start(
    state: SandboxState | None = None, port: int = 0, host: str = "127.0.0.1"
) -> RunningSandbox:
    """Serve `state` (default: the demo world) on a background thread in this process."""
    state = state or SandboxState()
    server = make_server(host, port, SandboxApp(state), threaded=True, request_handler=_Handler)
    server.daemon_threads = True
    actual_port = server.socket.getsockname()[1]
    state.base_url = f"http://{host}:{actual_port}"
    thread = threading.Thread(target=server.serve_forever, name="atlassian-sandbox", daemon=True)
    thread.start()
    return RunningSandbox(state.base_url, state, server, thread)
