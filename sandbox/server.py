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

from sandbox import auth, control, jira, parts, search, writes
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


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    handler: Callable[..., Result]
    name: str
    scopes: tuple[str, ...]
    write: bool = False


def _route(
    method: str, template: str, handler, scopes, write: bool = False, name: str | None = None
) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    route_name = name or re.sub(r"/?\{\w+\}", "", template).replace("/", "-") or template
    return Route(method, re.compile(regex + "$"), handler, route_name, scopes, write)


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
    _route("GET", "field/{field_id}/context", jira.field_contexts, CONFIG),
    _route(
        "GET", "field/{field_id}/context/{context_id}/option", jira.field_context_options, CONFIG
    ),
    _route("GET", "statuses/search", jira.statuses_search, READ_WORK),
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
]
API_PREFIX = "/rest/api/3/"
EX_JIRA = re.compile(r"^/ex/jira/(?P<cloud>[^/]+)(?P<rest>/.*)?$")
SITE = re.compile(r"^/site/(?P<name>[^/]+)(?P<rest>/.*)?$")
MEDIA = re.compile(r"^/_media/(?P<cloud>[^/]+)/(?P<att>\d+)$")


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
            return self._media(request, match["cloud"], match["att"])
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
            return _json_error(
                404, {"errorMessages": ["Site temporarily unavailable"], "errors": {}}
            )
        if cloud_id not in grant.site_ids:
            return auth.unauthorized()
        user = state.users[access.account_id]
        return self._jira(request, record, site, user, rest, access.client_id, access.scopes)

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
        if not rest.startswith(API_PREFIX):
            return _json_error(
                404, {"errorMessages": [f"null for uri: {request.url}"], "errors": {}}
            )
        sub = rest[len(API_PREFIX) :].rstrip("/")
        route, params, allowed = None, {}, False
        for candidate in JIRA_ROUTES:
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
        if scopes is not None and not any(s in scopes for s in route.scopes):
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

    def _media(self, request: Request, cloud_id: str, att_id: str) -> Response:
        site = self.state.sites.get(cloud_id)
        if site is None or site.deleted:
            return _json_error(404, {"error": "not found"})
        if request.args.get("token") != parts.media_signature(self.state, site, att_id):
            return _json_error(401, {"error": "invalid or missing media token"})
        try:
            _issue, attachment = parts.find_attachment(site, att_id)
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
