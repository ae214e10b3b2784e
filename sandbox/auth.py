"""auth.atlassian.com and the identity endpoints of api.atlassian.com.

Token rules follow Atlassian's rotating refresh tokens: every refresh returns a new refresh
token and disables the one used; the used one still works for the 10-minute reuse interval;
reusing it later is treated as a breach and revokes the grant. Refresh tokens die after 90
days without use and 365 days after the consent that started their family.
"""

from __future__ import annotations

import html
import secrets
from urllib.parse import urlencode

import orjson
from werkzeug.wrappers import Request, Response

from sandbox.model import ALL_SCOPES, AccessToken, AuthCode, Grant, RefreshToken, User
from sandbox.state import SandboxState

CODE_TTL = 300
ACCESS_TTL = 3600
REUSE_INTERVAL = 600
INACTIVITY_EXPIRY = 90 * 86400
ABSOLUTE_EXPIRY = 365 * 86400
ACCOUNT_COOKIE = "sandbox_account"


def json_response(data: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(data), status=status, headers=headers, mimetype="application/json")


def token_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def unauthorized(message: str = "Unauthorized") -> Response:
    # The gateway's shape for a bad or expired bearer token.
    return json_response({"code": 401, "message": message}, 401)


# ------------------------------------------------------------------ bearer authentication


def authenticate_bearer(state: SandboxState, token: str) -> tuple[AccessToken, Grant] | None:
    """The live access token and its grant, or None if expired, revoked or unknown."""
    access = state.access_tokens.get(token)
    if access is None or access.expires_at <= state.clock.time():
        return None
    grant = state.grants.get((access.client_id, access.account_id))
    if grant is None or not grant.active or grant.epoch != access.epoch:
        return None
    return access, grant


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


# ------------------------------------------------------------------ GET/POST /authorize


def authorize(state: SandboxState, request: Request) -> Response:
    params = request.form if request.method == "POST" else request.args
    client = state.clients.get(params.get("client_id", ""))
    if client is None:
        return error_page("invalid_client", "The app (client_id) is not registered.")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        # Atlassian never redirects to an unregistered callback.
        return error_page(
            "unauthorized_client", "The redirect_uri does not match the app's callback URL."
        )
    state_param = params.get("state")

    def back(**values: str) -> Response:
        if state_param is not None:
            values["state"] = state_param
        separator = "&" if "?" in redirect_uri else "?"
        return Response(
            status=302, headers={"Location": redirect_uri + separator + urlencode(values)}
        )

    if params.get("response_type") != "code":
        return back(
            error="unsupported_response_type",
            error_description="Only response_type=code is supported.",
        )
    scopes = params.get("scope", "").split()
    unknown = [s for s in scopes if s not in ALL_SCOPES]
    if not scopes or unknown:
        return back(
            error="invalid_scope",
            error_description=f"Unknown scopes: {' '.join(unknown) or '(none)'}",
        )
    audience = params.get("audience")
    if audience is not None and audience != "api.atlassian.com":
        return back(error="invalid_request", error_description="audience must be api.atlassian.com")

    if request.method == "GET":
        if state.consent.auto:
            return _auto_decision(state, client.client_id, redirect_uri, scopes, back)
        return consent_page(state, request, client.name, scopes)

    if request.form.get("decision") != "accept":
        return back(error="access_denied", error_description="The user denied access.")
    email = request.form.get("email", "").strip()
    try:
        user = state.user(email) if email else None
    except KeyError:
        user = None
    if user is None:
        return consent_page(
            state, request, client.name, scopes, error="No Atlassian account with that email."
        )
    site_id = request.form.get("site", "")
    if site_id not in {s.cloud_id for s in state.sites_for(user)}:
        return consent_page(
            state, request, client.name, scopes, user=user, error="You cannot reach that site."
        )
    response = back(code=_consent(state, client.client_id, redirect_uri, scopes, user, [site_id]))
    response.set_cookie(ACCOUNT_COOKIE, user.account_id, httponly=True, samesite="Lax")
    return response


def _auto_decision(state, client_id, redirect_uri, scopes, back) -> Response:
    settings = state.consent
    if settings.decision != "accept":
        return back(error="access_denied", error_description="The user denied access.")
    user = state.user(settings.account_id)
    reachable = [s.cloud_id for s in state.sites_for(user)]
    site_ids = settings.site_ids if settings.site_ids is not None else reachable[:1]
    site_ids = [s for s in site_ids if s in reachable]
    if not site_ids:
        return error_page("no_site", "The scripted account cannot reach any of the chosen sites.")
    return back(code=_consent(state, client_id, redirect_uri, scopes, user, site_ids))


def _consent(state, client_id, redirect_uri, scopes, user: User, site_ids: list[str]) -> str:
    """Record consent (one grant per app x account; each consent adds sites) and mint a code."""
    now = state.clock.time()
    with state.lock:
        key = (client_id, user.account_id)
        grant = state.grants.get(key)
        if grant is None:
            grant = state.grants[key] = Grant(client_id, user.account_id, created=now)
        if not grant.active:
            grant.active, grant.site_ids, grant.revoked_reason = True, [], None
        for site_id in site_ids:
            if site_id not in grant.site_ids:
                grant.site_ids.append(site_id)
        grant.scopes = list(scopes)  # consenting again replaces the scopes
        code = secrets.token_urlsafe(24)
        state.codes[code] = AuthCode(
            code, client_id, redirect_uri, user.account_id, list(scopes), now + CODE_TTL
        )
    return code


def consent_page(
    state: SandboxState,
    request: Request,
    app_name: str,
    scopes: list[str],
    user: User | None = None,
    error: str | None = None,
) -> Response:
    params = request.form if request.method == "POST" else request.args
    if user is None:
        remembered = params.get("login_hint") or request.cookies.get(ACCOUNT_COOKIE)
        if remembered:
            try:
                user = state.user(remembered)
            except KeyError:
                user = None
    sites = state.sites_for(user) if user else [s for s in state.sites.values() if not s.deleted]
    esc = html.escape
    hidden = "".join(
        f'<input type="hidden" name="{esc(k)}" value="{esc(params[k])}">'
        for k in (
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "audience",
            "prompt",
        )
        if params.get(k) is not None
    )
    options = "".join(
        f'<option value="{esc(s.cloud_id)}">{esc(s.name)} ({esc(s.url)})</option>' for s in sites
    )
    accounts = "".join(f'<option value="{esc(u.email)}">' for u in state.users.values())
    scope_items = "".join(f"<li><code>{esc(s)}</code></li>" for s in scopes)
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize {esc(app_name)} - Atlassian sandbox</title></head>
<body>
<main>
<h1>{esc(app_name)} is requesting access to your Atlassian account</h1>
{f'<p role="alert" class="error">{esc(error)}</p>' if error else ""}
<form method="post" action="/authorize">
{hidden}
<p><label for="email">Atlassian account email</label>
<input id="email" name="email" type="email" list="accounts" autocomplete="email"
 value="{esc(user.email) if user else ""}"></p>
<datalist id="accounts">{accounts}</datalist>
<p><label for="site">Use app on</label>
<select id="site" name="site">{options}</select></p>
<p>It will be able to:</p><ul>{scope_items}</ul>
<button type="submit" name="decision" value="accept">Accept</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
</main>
</body></html>"""
    return Response(body, status=400 if error else 200, mimetype="text/html")


def error_page(code: str, message: str) -> Response:
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Something went wrong - Atlassian sandbox</title></head>
<body><main><h1>Something went wrong</h1>
<p>{html.escape(message)}</p><p>Error: <code id="error">{html.escape(code)}</code></p></main></body></html>"""
    return Response(body, status=400, mimetype="text/html")


# ------------------------------------------------------------------ POST /oauth/token


def token(state: SandboxState, request: Request) -> Response:
    if request.mimetype == "application/json":
        try:
            body = orjson.loads(request.get_data() or b"{}")
        except orjson.JSONDecodeError:
            return token_error(400, "invalid_request", "Malformed JSON body.")
        if not isinstance(body, dict):
            return token_error(400, "invalid_request", "Malformed JSON body.")
    else:
        body = request.form.to_dict()
    grant_type = body.get("grant_type")
    if grant_type not in ("authorization_code", "refresh_token"):
        return token_error(403, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")
    client = state.clients.get(str(body.get("client_id", "")))
    if client is None or not secrets.compare_digest(
        str(body.get("client_secret", "")), client.secret
    ):
        return token_error(401, "access_denied", "Unauthorized")
    with state.lock:
        if grant_type == "authorization_code":
            return _exchange_code(state, client.client_id, body)
        return _refresh(state, client.client_id, body)


def _exchange_code(state: SandboxState, client_id: str, body: dict) -> Response:
    if not body.get("code"):
        return token_error(400, "invalid_request", "Missing required parameter: code")
    now = state.clock.time()
    code = state.codes.get(str(body["code"]))
    if code is None or code.used or code.expires_at <= now or code.client_id != client_id:
        return token_error(403, "invalid_grant", "Invalid authorization code")
    if body.get("redirect_uri") != code.redirect_uri:
        return token_error(403, "invalid_grant", "Invalid redirect_uri")
    code.used = True
    grant = state.grants.get((client_id, code.account_id))
    if grant is None or not grant.active:
        return token_error(403, "invalid_grant", "Invalid authorization code")
    family = secrets.token_hex(8)
    return _issue_tokens(state, grant, code.scopes, family, family_started=now)


def _refresh(state: SandboxState, client_id: str, body: dict) -> Response:
    if not body.get("refresh_token"):
        return token_error(400, "invalid_request", "Missing required parameter: refresh_token")
    invalid = token_error(403, "invalid_grant", "Unknown or invalid refresh token.")
    now = state.clock.time()
    old = state.refresh_tokens.get(str(body["refresh_token"]))
    if old is None or old.client_id != client_id:
        return invalid
    grant = state.grants.get((client_id, old.account_id))
    if grant is None or not grant.active or grant.epoch != old.epoch:
        return invalid
    if now >= old.family_started + ABSOLUTE_EXPIRY or now >= old.expires_at:
        return invalid
    if old.used_at is not None and now - old.used_at > REUSE_INTERVAL:
        # A rotated token came back after the reuse interval: assume it leaked.
        state.revoke_grant(old.account_id, client_id, reason="refresh token reused after rotation")
        return invalid
    if state.faults.take_omit_refresh():
        # No rotation: the old refresh token stays valid, the answer lacks a new one.
        return _issue_tokens(state, grant, grant.scopes, old.family, old.family_started, False)
    if old.used_at is None:
        old.used_at = now
    return _issue_tokens(state, grant, grant.scopes, old.family, old.family_started)


def _issue_tokens(
    state: SandboxState,
    grant: Grant,
    scopes: list[str],
    family: str,
    family_started: float,
    with_refresh: bool = True,
) -> Response:
    now = state.clock.time()
    access = AccessToken(
        "sbx_at_" + secrets.token_urlsafe(32),
        grant.client_id,
        grant.account_id,
        grant.epoch,
        frozenset(scopes),
        now + ACCESS_TTL,
    )
    state.access_tokens[access.token] = access
    payload = {
        "access_token": access.token,
        "expires_in": ACCESS_TTL,
        "token_type": "Bearer",
        "scope": " ".join(scopes),
    }
    if with_refresh and "offline_access" in scopes:
        refresh = RefreshToken(
            "sbx_rt_" + secrets.token_urlsafe(32),
            grant.client_id,
            grant.account_id,
            family,
            family_started,
            grant.epoch,
            issued_at=now,
            expires_at=now + INACTIVITY_EXPIRY,
        )
        state.refresh_tokens[refresh.token] = refresh
        payload["refresh_token"] = refresh.token
    return json_response(payload, headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------ api.atlassian.com identity


def accessible_resources(state: SandboxState, request: Request) -> Response:
    found = authenticate_bearer(state, bearer_token(request) or "")
    if found is None:
        return unauthorized()
    _access, grant = found
    jira_scopes = [s for s in grant.scopes if "jira" in s]
    resources = []
    for site_id in grant.site_ids:
        site = state.sites.get(site_id)
        if site is None or site.deleted:
            continue
        resources.append(
            {
                "id": site.cloud_id,
                "name": site.name,
                "url": site.url,
                "scopes": jira_scopes,
                "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png",
            }
        )
    return json_response(resources)


def me(state: SandboxState, request: Request) -> Response:
    found = authenticate_bearer(state, bearer_token(request) or "")
    if found is None:
        return unauthorized()
    access, _grant = found
    if "read:me" not in access.scopes:
        return unauthorized("Unauthorized; scope does not match")
    user = state.users[access.account_id]
    return json_response(
        {
            "account_type": "atlassian",
            "account_id": user.account_id,
            "email": user.email,
            "name": user.name,
            "picture": f"https://avatar.sandbox.invalid/{user.account_id}",
            "account_status": "active" if user.active else "inactive",
            "nickname": user.name.split()[0],
            "zoneinfo": user.timezone,
            "locale": user.locale.replace("_", "-"),
            "extended_profile": {
                "job_title": "Engineer",
                "organization": "Sandbox",
                "department": "IT",
            },
        }
    )
