"""The `/_sandbox/` JSON control API: the same control surface as SandboxState, for other
processes (a Celery worker, the `make run` demo, a browser test)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from werkzeug.wrappers import Request, Response

from sandbox import workflows
from sandbox.ratelimit import tier2_quota
from sandbox.state import SandboxState


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data, default=str), status=status, mimetype="application/json")


def _body(request: Request) -> dict:
    raw = request.get_data()
    data = orjson.loads(raw) if raw else {}
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _site_summary(state: SandboxState, site) -> dict:
    return state.site(site).summary()


def get_state(state: SandboxState, request: Request, body: dict) -> Any:
    return state.summary()


def reset(state: SandboxState, request: Request, body: dict) -> Any:
    state.reset(
        seed=body.get("seed"),
        projects=int(body.get("projects", 2)),
        issues=int(body.get("issues", 20)),
        sites=body.get("sites") or ("acme", "globex"),
        auto_consent=bool(body.get("auto_consent", False)),
        features=body.get("features"),
    )
    return state.summary()


def clock(state: SandboxState, request: Request, body: dict) -> Any:
    return {"now": state.clock.now().isoformat(), "epoch": state.clock.time()}


def clock_advance(state: SandboxState, request: Request, body: dict) -> Any:
    if body.get("to_next_hour"):
        state.clock.to_next_hour()
    else:
        state.clock.advance(
            seconds=float(body.get("seconds", 0)),
            minutes=float(body.get("minutes", 0)),
            hours=float(body.get("hours", 0)),
            days=float(body.get("days", 0)),
        )
    return clock(state, request, body)


def clock_next_hour(state: SandboxState, request: Request, body: dict) -> Any:
    state.clock.to_next_hour()
    return clock(state, request, body)


def faults(state: SandboxState, request: Request, body: dict) -> Any:
    """Body keys mirror the Faults methods, e.g. {"error_rate": {"fraction": 0.2}}."""
    f = state.faults
    if body.get("clear"):
        f.clear()
    if "error_rate" in body:
        args = dict(body["error_rate"])
        if "statuses" in args:
            args["statuses"] = tuple(args["statuses"])
        f.error_rate(**args)
    if "slow" in body:
        f.slow(**body["slow"])
    if "drop_connections" in body:
        f.drop_connections(**body["drop_connections"])
    if "fail_token_endpoint" in body:
        f.fail_token_endpoint(**body["fail_token_endpoint"])
    if "fail_next_requests" in body:
        f.fail_next_requests(**body["fail_next_requests"])
    if "omit_refresh_token" in body:
        f.omit_refresh_token(**body["omit_refresh_token"])
    return f.summary()


def faults_clear(state: SandboxState, request: Request, body: dict) -> Any:
    state.faults.clear()
    return state.faults.summary()


def consent(state: SandboxState, request: Request, body: dict) -> Any:
    """{"auto": true, "email": ..., "sites": [names], "decision": "accept"|"deny"}"""
    if not body.get("auto", True):
        state.manual_consent()
    else:
        who = body.get("email") or body.get("account_id") or state.admin.account_id
        state.consent_as(who, body.get("sites"), body.get("decision", "accept"))
    return state.consent.as_dict()


def request_log(state: SandboxState, request: Request, body: dict) -> Any:
    filters: dict[str, Any] = {}
    for key in ("credential", "method", "path_prefix", "site_cloud_id", "client_id", "account_id"):
        if key in request.args:
            filters[key] = request.args[key]
    if "status" in request.args:
        filters["status"] = int(request.args["status"])
    return [r.as_dict() for r in state.request_log.where(**filters)]


def request_log_clear(state: SandboxState, request: Request, body: dict) -> Any:
    state.request_log.clear()
    return []


def ledger(state: SandboxState, request: Request, body: dict) -> Any:
    args = request.args
    site = args.get("site")
    if site:
        site = state.site(site).cloud_id
    hour = args.get("hour")
    points = state.ledger.points(
        pool=args.get("pool"),
        site=site,
        hour=float(hour) if hour else None,
        client_id=args.get("client_id"),
    )
    return {"points": points, "entries": state.ledger.entries()}


def rate_limits(state: SandboxState, request: Request, body: dict) -> Any:
    if "enabled" in body:
        state.rate_limits_enabled = bool(body["enabled"])
    if "burst_enabled" in body:
        state.limiter.burst_enabled = bool(body["burst_enabled"])
    state.set_quota(tier1=body.get("tier1"), burst=body.get("burst"))
    if "quota_enforced" in body:
        state.limiter.quota_enforced = bool(body["quota_enforced"])
    for site, quota in (body.get("tier2") or {}).items():
        if quota is None:
            state.disable_tier2(site)
        elif isinstance(quota, dict):  # {"plan": "premium", "users": 800}: Atlassian's formula
            state.enable_tier2(site, tier2_quota(str(quota["plan"]), quota.get("users", 0)))
        else:
            state.enable_tier2(site, int(quota))
    if body.get("reset_usage"):
        state.limiter.reset()
    return {
        "enabled": state.limiter.enabled,
        "tier1": state.limiter.tier1_quota,
        "tier2": state.limiter.tier2_quotas,
        "quota_enforced": state.limiter.quota_enforced,
        "burst": state.limiter.burst,
    }


def add_site(state: SandboxState, request: Request, body: dict) -> Any:
    admins = [state.user(a) for a in body.get("admins", [])]
    site = state.add_site(
        body["name"],
        cloud_id=body.get("cloud_id"),
        projects=int(body.get("projects", 2)),
        issues=int(body.get("issues", 20)),
        admins=admins,
        features=body.get("features"),
    )
    return site.summary()


def add_user(state: SandboxState, request: Request, body: dict) -> Any:
    user = state.add_user(
        body["email"],
        name=body.get("name"),
        admin_of=body.get("admin_of", []),
        member_of=body.get("member_of", []),
    )
    result = {"account_id": user.account_id, "email": user.email, "name": user.name}
    if body.get("api_token"):
        result["api_token"] = state.issue_api_token(user)
    return result


def api_token(state: SandboxState, request: Request, body: dict) -> Any:
    return {"token": state.issue_api_token(body["email"], body.get("site"))}


def grants(state: SandboxState, request: Request, body: dict) -> Any:
    return state.summary()["grants"]


def revoke_grant(state: SandboxState, request: Request, body: dict) -> Any:
    state.revoke_grant(body.get("account_id") or body["email"], body.get("client_id"))
    return state.summary()["grants"]


def delete_site(state: SandboxState, request: Request, body: dict) -> Any:
    state.delete_site(body["site"])
    return _site_summary(state, body["site"])


def remove_admin(state: SandboxState, request: Request, body: dict) -> Any:
    state.remove_admin(body["user"], body["site"])
    return _site_summary(state, body["site"])


def mutate(state: SandboxState, request: Request, body: dict) -> Any:
    return state.mutate(
        fraction=float(body.get("fraction", 0.01)),
        delete=body.get("delete", 0),
        site=body.get("site"),
        seed=body.get("seed"),
    )


def bulk_edit(state: SandboxState, request: Request, body: dict) -> Any:
    """{site, issues: [keys] | count, fields, delete_comments, author, at, seed}: see
    SandboxState.bulk_edit. `at` is epoch seconds or ISO 8601."""
    at = body.get("at")
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return state.bulk_edit(
        body["site"],
        issues=body.get("issues"),
        count=body.get("count"),
        fields=body.get("fields"),
        delete_comments=int(body.get("delete_comments", 0)),
        author=body.get("author"),
        at=at,
        seed=body.get("seed"),
    )


def edit_workflow(state: SandboxState, request: Request, body: dict) -> Any:
    """{site, workflow (name), remove: [transition ids], add: [{id, name, to, from}]}: an
    administrator edits a workflow in Jira's editor and publishes it."""
    site = state.site(body["site"])
    changed = workflows.edit_workflow(
        site,
        body["workflow"],
        remove=body.get("remove"),
        add=body.get("add"),
        now=state.clock.time(),
    )
    return workflows.workflow_json(changed, transitions=True)


def register_client(state: SandboxState, request: Request, body: dict) -> Any:
    client = state.register_client(body["client_id"], body["secret"], body["redirect_uris"])
    return {"client_id": client.client_id, "redirect_uris": client.redirect_uris}


Handler = Callable[[SandboxState, Request, dict], Any]
ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "state"): get_state,
    ("POST", "reset"): reset,
    ("GET", "clock"): clock,
    ("POST", "clock/advance"): clock_advance,
    ("POST", "clock/next-hour"): clock_next_hour,
    ("GET", "faults"): lambda s, r, b: s.faults.summary(),
    ("POST", "faults"): faults,
    ("POST", "faults/clear"): faults_clear,
    ("DELETE", "faults"): faults_clear,
    ("POST", "consent"): consent,
    ("GET", "request-log"): request_log,
    ("DELETE", "request-log"): request_log_clear,
    ("GET", "ledger"): ledger,
    ("POST", "rate-limits"): rate_limits,
    ("POST", "sites"): add_site,
    ("POST", "sites/delete"): delete_site,
    ("POST", "sites/remove-admin"): remove_admin,
    ("POST", "users"): add_user,
    ("POST", "api-tokens"): api_token,
    ("GET", "grants"): grants,
    ("POST", "grants/revoke"): revoke_grant,
    ("POST", "mutate"): mutate,
    ("POST", "bulk-edit"): bulk_edit,
    ("POST", "workflows/edit"): edit_workflow,
    ("POST", "clients"): register_client,
}


def dispatch(state: SandboxState, request: Request) -> Response:
    name = request.path[len("/_sandbox/") :].strip("/")
    handler = ROUTES.get((request.method, name))
    if handler is None:
        known = sorted(f"{m} /_sandbox/{p}" for m, p in ROUTES)
        return _json({"error": "unknown control endpoint", "endpoints": known}, 404)
    try:
        return _json(handler(state, request, _body(request) if request.method != "GET" else {}))
    except (KeyError, TypeError, ValueError) as exc:
        return _json({"error": f"{type(exc).__name__}: {exc}"}, 400)
