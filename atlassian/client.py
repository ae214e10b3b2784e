"""The one Atlassian client: nothing else in the portal talks HTTP to Atlassian.

Every request goes through ``BaseClient._request``, which

1. refuses legacy credentials after ``LEGACY_CUTOFF`` (or in a brownout) *before* sending,
2. waits for (or refuses with ``ApiRateLimited``) any shared rate-limit hold on the pool, the
   site x endpoint, or the issue being written,
3. sends with a default timeout, a pooled session and our ``User-Agent``,
4. records the call in the ledger (points from the cost model),
5. learns from a 429 (stores a hold every worker honours) and retries what is transient and
   safe to repeat, a bounded number of times,
6. treats a 2xx whose body cannot be read (an HTML maintenance page, truncated JSON) as a
   transient failure (``ApiBadResponse``), retried like a 5xx when the request may be repeated,
7. turns the rest into the exceptions of ``atlassian.exceptions``.

``AuthClient`` speaks to the auth server (token endpoint) and the platform (``/me``,
``accessible-resources``); ``JiraClient`` speaks Jira REST v3 for one site, either with a
vendor 3LO grant (Bearer via api.atlassian.com) or with a legacy API token (Basic auth against
the site URL).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from django.utils.module_loading import import_string
from requests.adapters import HTTPAdapter

from atlassian import ledger as ledger_module
from atlassian import pools
from atlassian.admission import Admission
from atlassian.costs import estimate_points, points_for
from atlassian.endpoints import (
    AGILE_PREFIX,
    AGILE_ROOT,
    AUTH_FAMILIES,
    REST_ROOT,
    is_read_only,
    status_class,
)
from atlassian.exceptions import (
    ApiBadRequest,
    ApiBadResponse,
    ApiForbidden,
    ApiHostError,
    ApiNotFound,
    ApiRateLimited,
    ApiServerError,
    ApiTimeoutError,
    ApiUnauthorized,
    AtlassianError,
    InvalidGrant,
    LegacyAccessRefused,
)
from atlassian.ledger import CallLedger
from atlassian.models import CredentialKind
from atlassian.ratelimit import (
    GLOBAL_POOL,
    INTERACTIVE,
    RateLimiter,
    default_rate_limiter,
    legacy_pool,
)
from atlassian.retry import RetryPolicy, parse_reset, parse_retry_after
from atlassian.types import (
    AccessibleResource,
    BulkCreateResult,
    ChangelogPage,
    Me,
    SearchPage,
    TokenResponse,
)

logger = logging.getLogger(__name__)

LEGACY_KINDS = frozenset({CredentialKind.LEGACY_API_TOKEN, CredentialKind.LEGACY_CUSTOMER_APP})
# Waits longer than this are not slept: ApiRateLimited is raised so a task can reschedule.
DEFAULT_MAX_WAIT_SECONDS = 60.0
# The token endpoint fails fast: a refresh must finish well within the 10-minute reuse interval.
TOKEN_TIMEOUT_SECONDS = 10
INVALID_GRANT_ERRORS = frozenset({"invalid_grant", "unauthorized_client"})
CHUNK_SIZE = 1024 * 1024

# A brownout hook answers "refuse this legacy request now?" with a reason, or None.
BrownoutHook = Callable[..., str | None]


def user_agent() -> str:
    return f"JiraBackupPortal/{settings.PORTAL_VERSION} (vendor-3lo-app; +{settings.SITE_URL})"


def new_session(pool_maxsize: int = 32) -> requests.Session:
    """A pooled session with urllib3's own retries off: ``_request`` decides about retries."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = user_agent()
    session.headers["Accept"] = "application/json"
    return session


@dataclass
class Reply:
    """One answered request: the response, its parsed JSON (None if not JSON or streamed)."""

    response: requests.Response
    data: Any
    points: int
    # A 2xx whose body is not the JSON it claims or we asked for (a proxy's HTML page,
    # truncated JSON): ``_request`` treats it as a transient failure.
    unreadable: bool = False

    @property
    def status(self) -> int:
        return self.response.status_code


class BaseClient:
    def __init__(
        self,
        *,
        credential_kind: str,
        site_cloud_id: str = "",
        pool: str | None = None,
        site_id: object = None,
        timeout: float | None = None,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        ledger: CallLedger | None = None,
        max_wait: float = DEFAULT_MAX_WAIT_SECONDS,
        brownout: BrownoutHook | None = None,
        now: Callable[[], datetime] = timezone.now,
        priority: str = INTERACTIVE,
        admission: Admission | None = None,
    ) -> None:
        self.credential_kind = str(credential_kind)
        self.site_cloud_id = site_cloud_id
        self.pool = pool
        self.site_id = site_id
        self.timeout = timeout if timeout is not None else settings.ATLASSIAN_TIMEOUT_SECONDS
        self._own_session = session is None
        self.session = session or new_session()
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or default_rate_limiter()
        self.ledger = ledger or ledger_module.ledger
        self.max_wait = max_wait
        self.brownout = brownout if brownout is not None else _default_brownout_hook()
        self.now = now
        # Every request that draws on a points pool is admitted by the budget first.
        self.admission = admission or Admission(priority=priority)
        # The last RateLimit-Policy seen (name, quota, enforced): what we learned the tier from.
        self._policy_seen: tuple[str, int, bool] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Give back unspent points, flush the ledger and release pooled connections."""
        self.admission.settle()
        self.ledger.flush(quiet=True)
        if self._own_session:
            self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- the one request path -------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        return {}

    def _url(self, path: str) -> str:
        raise NotImplementedError

    def _request(
        self,
        method: str,
        family: str,
        *,
        path_params: Mapping[str, object] | None = None,
        url: str | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        idempotent: bool | None = None,
        issue: str | None = None,
        ok_statuses: Iterable[int] = (),
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        authenticate: bool = True,
        follow_redirects: bool = True,
    ) -> Reply:
        method = method.upper()
        retry = retry or self.retry
        if idempotent is None:
            idempotent = is_read_only(method, family)
        if url is None:
            url = self._url(_fill(family, path_params or {}))
        ok = set(ok_statuses)
        rewind = _rewinders(files)
        attempt = 0
        while True:
            self._check_legacy(method, family)
            for rewind_one in rewind:
                rewind_one()
            self._wait_for_holds(method, family, issue, retry)
            pool = self.pool if family not in AUTH_FAMILIES else None
            estimate = estimate_points(method, family, params, json) if pool else 0
            if pool:
                self.admission.before(
                    pool=pool,
                    site=self.site_cloud_id,
                    estimate=estimate,
                    family=family,
                    method=method,
                )
            spent = 0
            request_headers = dict(headers or {})
            if authenticate:
                request_headers.update(self._auth_headers())
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    files=files,
                    headers=request_headers,
                    stream=stream,
                    timeout=timeout or self.timeout,
                    allow_redirects=follow_redirects,
                )
            except requests.Timeout as exc:
                self._admitted(pool, estimate, 0)
                self._record(method, family, None, 0)
                error: AtlassianError = ApiTimeoutError(
                    "Atlassian did not answer in time", endpoint=family, method=method
                )
                cause: Exception = exc
            except requests.ConnectionError as exc:
                self._admitted(pool, estimate, 0)
                self._record(method, family, None, 0)
                error = ApiHostError("could not reach Atlassian", endpoint=family, method=method)
                cause = exc
            else:
                try:
                    reply = self._reply(method, family, response, stream)
                    spent = reply.points
                finally:
                    self._admitted(pool, estimate, spent)
                status = response.status_code
                if (status < 400 or status in ok) and not reply.unreadable:
                    return reply
                response.close()
                if reply.unreadable:
                    error = ApiBadResponse(
                        f"Atlassian answered {status} with a body that cannot be read "
                        f"({reply.unreadable})",
                        status=status,
                        endpoint=family,
                        method=method,
                    )
                    retry_after, hold_wait = None, 0.0
                    retryable = idempotent
                elif status == 429:
                    # A 429 is a refusal: nothing was done, so even a write may be sent again.
                    error, retry_after, hold_wait = self._rate_limited(
                        method, family, issue, response
                    )
                    retryable = True
                elif status >= 500:
                    error = self._error_for(method, family, reply)
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    hold_wait = 0.0
                    retryable = idempotent
                else:
                    raise self._error_for(method, family, reply)
                if not retryable or attempt >= retry.max_retries:
                    raise error
                attempt += 1
                wait = max(retry.wait_for(attempt, retry_after), hold_wait)
                if wait > self.max_wait:
                    if isinstance(error, ApiRateLimited):
                        error.retry_after = wait
                    raise error
                self._sleep(retry, wait, family)
                continue
            # No response at all (timeout, connection failure).
            if not idempotent or attempt >= retry.max_retries:
                raise error from cause
            attempt += 1
            self._sleep(retry, retry.wait_for(attempt, None), family)

    def _admitted(self, pool: str | None, estimate: int, points: int) -> None:
        if pool:
            self.admission.after(pool=pool, estimate=estimate, points=points)

    def _learn_policy(self, response: requests.Response) -> None:
        """What tier the site is on, from the policy header Atlassian sends on every answer
        (``atlassian.pools``): a Tier 2 pool switches this client to it (and is recorded for
        every other worker); a site Atlassian serves from the global pool again leaves it."""
        policy = pools.policy_of(response.headers)
        if policy is None or policy == self._policy_seen:
            return
        self._policy_seen = policy
        name, _quota, enforced = policy
        on_own_pool = (self.pool or "").startswith(pools.TENANT_POOL_PREFIX)
        if name == pools.GLOBAL_POLICY and not (enforced and on_own_pool):
            return  # nothing new: the global pool, as this client assumed
        try:
            pools.learn(self.site_cloud_id, policy)
        except DatabaseError:
            logger.warning("could not record the rate-limit tier of %s", self.site_cloud_id)
        if name == pools.TENANT_POLICY:
            self.pool = pools.tenant_pool(self.site_cloud_id)
        elif enforced:
            self.pool = GLOBAL_POOL

    def _reply(self, method: str, family: str, response: requests.Response, stream: bool) -> Reply:
        if (
            self.credential_kind == CredentialKind.VENDOR_GRANT
            and self.site_cloud_id
            and family not in AUTH_FAMILIES
        ):
            self._learn_policy(response)
        data = None
        unreadable = ""
        status = response.status_code
        if (not stream or status >= 400) and response.content:
            content_type = response.headers.get("Content-Type", "")
            if "json" in content_type:
                try:
                    data = response.json()
                except ValueError:
                    unreadable = "truncated or invalid JSON"
            elif "html" in content_type:
                unreadable = "an HTML page, not JSON: a maintenance page or a proxy's error"
        points = points_for(method, family, data, status=status)
        self._record(method, family, status, points)
        # Error statuses are turned into exceptions from whatever their body holds.
        return Reply(response, data, points, unreadable if status < 400 else "")

    def _record(self, method: str, family: str, status: int | None, points: int) -> None:
        logger.debug("atlassian %s %s -> %s (%d points)", method, family, status, points)
        self.ledger.record(
            site_cloud_id="" if family in AUTH_FAMILIES else self.site_cloud_id,
            pool="" if family in AUTH_FAMILIES else (self.pool or ""),
            credential_kind=self.credential_kind,
            endpoint_family=family,
            status_class=status_class(status),
            points=points,
        )

    def _sleep(self, retry: RetryPolicy, seconds: float, family: str) -> None:
        if seconds > 0:
            logger.info("atlassian %s: waiting %.1f s before trying again", family, seconds)
            retry.sleep(seconds)

    def _wait_for_holds(
        self, method: str, family: str, issue: str | None, retry: RetryPolicy
    ) -> None:
        if family in AUTH_FAMILIES:
            return
        site = self.site_cloud_id
        # Re-check after sleeping: another worker may have extended the hold meanwhile.
        for _ in range(10):
            wait, hold = self.limiter.wait_before(
                pool=self.pool, site=site, family=family, method=method, issue=issue
            )
            if hold is None or wait <= 0:
                return
            if wait > self.max_wait:
                raise ApiRateLimited(
                    f"Atlassian rate limit in force ({hold.reason}); try again later",
                    retry_after=wait,
                    reason=hold.reason,
                    pool=(self.pool or "") if hold.key.startswith("pool:") else "",
                    endpoint=family,
                    method=method,
                )
            self._sleep(retry, wait, family)

    def _rate_limited(
        self, method: str, family: str, issue: str | None, response: requests.Response
    ) -> tuple[ApiRateLimited, float | None, float]:
        """Store what the 429 means for every worker; (error, Retry-After, wait for the hold)."""
        headers = response.headers
        reason = headers.get("RateLimit-Reason", "")
        retry_after = parse_retry_after(headers.get("Retry-After"))
        reset_at = parse_reset(headers.get("X-RateLimit-Reset"))
        hold = self.limiter.note_429(
            pool=self.pool,
            site=self.site_cloud_id,
            family=family,
            method=method,
            issue=issue,
            reason=reason,
            retry_after=retry_after,
            reset_at=reset_at,
        )
        hold_wait = max(0.0, hold.not_before - self.limiter.clock())
        is_pool = hold.key.startswith("pool:")
        error = ApiRateLimited(
            f"Atlassian rate limit ({reason or 'no reason given'})",
            retry_after=max(hold_wait, retry_after or 0.0),
            reason=reason,
            pool=(self.pool or "") if is_pool else "",
            endpoint=family,
            method=method,
        )
        return error, retry_after, hold_wait

    def _error_for(self, method: str, family: str, reply: Reply) -> AtlassianError:
        status = reply.status
        body = reply.data if isinstance(reply.data, dict) else {}
        messages = [str(m) for m in body.get("errorMessages") or [] if m]
        errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
        oauth_error = str(body.get("error") or "")
        detail = "; ".join(
            messages
            + [f"{k}: {v}" for k, v in (errors or {}).items()]
            + [str(body[k]) for k in ("error_description", "message") if body.get(k)]
        )
        kwargs = {"status": status, "endpoint": family, "method": method}
        if family == "oauth/token" and oauth_error in INVALID_GRANT_ERRORS:
            return InvalidGrant(
                detail or "the authorization is no longer valid", error=oauth_error, **kwargs
            )
        if status == 401:
            return ApiUnauthorized(detail or "not authorized", **kwargs)
        if status == 403:
            return ApiForbidden(detail or "forbidden", **kwargs)
        if status in (404, 410):
            return ApiNotFound(detail or "not found", **kwargs)
        if status in (400, 409, 413, 422):
            return ApiBadRequest(
                detail or "bad request", error_messages=messages, errors=errors, **kwargs
            )
        if status >= 500:
            return ApiServerError(detail or "Atlassian server error", **kwargs)
        return AtlassianError(detail or f"unexpected status {status}", **kwargs)

    def _check_legacy(self, method: str, family: str) -> None:
        if self.credential_kind not in LEGACY_KINDS:
            return
        now = self.now()
        if now >= settings.LEGACY_CUTOFF:
            raise LegacyAccessRefused(
                "legacy credentials may no longer be used (cutoff passed); "
                "connect the site through the vendor app",
                reason="cutoff",
                endpoint=family,
                method=method,
            )
        if self.brownout is not None:
            reason = self.brownout(
                site_id=self.site_id, credential_kind=self.credential_kind, now=now
            )
            if reason:
                raise LegacyAccessRefused(
                    f"legacy access paused: {reason}",
                    reason="brownout",
                    endpoint=family,
                    method=method,
                )

    # -- helpers for endpoint methods ------------------------------------------------------

    def _get(self, family: str, path_params=None, params=None, **kwargs) -> Any:
        return self._request("GET", family, path_params=path_params, params=params, **kwargs).data

    def _post(self, family: str, body: Any, path_params=None, params=None, **kwargs) -> Any:
        return self._request(
            "POST", family, path_params=path_params, params=params, json=body, **kwargs
        ).data

    def _offset_pages(
        self,
        method: str,
        family: str,
        *,
        path_params=None,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        items_key: str | None = "values",
        page_size: int = 100,
    ) -> Iterator[Any]:
        """Every item of an offset-paged endpoint (``startAt``/``maxResults``/``isLast``)."""
        start = 0
        while True:
            page_params = {**(params or {}), "startAt": start, "maxResults": page_size}
            data = self._request(
                method, family, path_params=path_params, params=page_params, json=body
            ).data
            items = data if items_key is None or isinstance(data, list) else data.get(items_key)
            items = items or []
            yield from items
            start += len(items)
            if not items:
                return
            if isinstance(data, dict):
                if data.get("isLast") is True:
                    return
                total = data.get("total")
                if total is not None and start >= total:
                    return
                if "isLast" in data or total is not None:
                    continue
            if len(items) < page_size:
                return


class AuthClient(BaseClient):
    """The auth server (token endpoint) and the platform endpoints around a grant."""

    def __init__(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        credential_kind: str = CredentialKind.VENDOR_GRANT,
        token_retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(credential_kind=credential_kind, **kwargs)
        # Refreshes retry quickly and briefly (two retries, 1 s then 2 s; the same refresh
        # token stays usable for 10 minutes): the whole attempt stays well under a minute.
        # A test that shrinks the API backoff base shrinks this one with it.
        base = min(1.0, self.retry.base)
        self.token_retry = token_retry or RetryPolicy(
            max_retries=2, base=base, cap=4 * base, sleep=self.retry.sleep, clock=self.retry.clock
        )
        self.client_id = client_id or settings.ATLASSIAN_CLIENT_ID
        self._client_secret = client_secret or settings.ATLASSIAN_CLIENT_SECRET
        self.auth_url = settings.ATLASSIAN_AUTH_URL.rstrip("/")
        self.api_url = settings.ATLASSIAN_API_URL.rstrip("/")

    def __repr__(self) -> str:
        return f"<AuthClient client_id={self.client_id!r}>"

    def _token(self, body: dict[str, str], *, retry: bool) -> TokenResponse:
        policy = self.token_retry if retry else RetryPolicy(max_retries=0)
        reply = self._request(
            "POST",
            "oauth/token",
            url=f"{self.auth_url}/oauth/token",
            json={"client_id": self.client_id, "client_secret": self._client_secret, **body},
            idempotent=retry,
            retry=policy,
            timeout=min(self.timeout, TOKEN_TIMEOUT_SECONDS),
            authenticate=False,
        )
        if not isinstance(reply.data, dict) or not reply.data.get("access_token"):
            raise ApiServerError(
                "token endpoint answered without an access token",
                status=reply.status,
                endpoint="oauth/token",
                method="POST",
            )
        return TokenResponse.from_json(reply.data)

    def exchange_code(self, code: str, redirect_uri: str | None = None) -> TokenResponse:
        """Trade an authorization code for tokens. Not retried: a code is single-use."""
        return self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri or settings.ATLASSIAN_REDIRECT_URI,
            },
            retry=False,
        )

    def refresh(self, refresh_token: str) -> TokenResponse:
        """Rotate a refresh token. Retried briefly on 5xx/timeouts (the same token may be
        reused within Atlassian's 10-minute interval); ``InvalidGrant`` is never retried.
        ``TokenResponse.refresh_token`` is None when Atlassian did not send a new one."""
        return self._token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, retry=True
        )

    def me(self, access_token: str) -> Me:
        reply = self._request(
            "GET",
            "me",
            url=f"{self.api_url}/me",
            headers=_bearer(access_token),
            authenticate=False,
        )
        return Me.from_json(reply.data)

    def accessible_resources(self, access_token: str) -> list[AccessibleResource]:
        reply = self._request(
            "GET",
            "accessible-resources",
            url=f"{self.api_url}/oauth/token/accessible-resources",
            headers=_bearer(access_token),
            authenticate=False,
        )
        return [AccessibleResource.from_json(item) for item in reply.data or []]


class JiraClient(BaseClient):
    """Jira Cloud REST v3 for one site. Build it with ``for_grant`` or
    ``for_legacy_api_token``; one small method per endpoint."""

    def __init__(
        self,
        *,
        base_url: str,
        auth: Callable[[], dict[str, str]] | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self._auth = auth

    def __repr__(self) -> str:
        return f"<JiraClient {self.credential_kind} {self.site_cloud_id or self.base_url}>"

    @classmethod
    def for_grant(
        cls,
        cloud_id: str,
        token_provider: Callable[[], str],
        *,
        site_id: object = None,
        pool: str | None = None,
        credential_kind: str = CredentialKind.VENDOR_GRANT,
        **kwargs: Any,
    ) -> JiraClient:
        """Bearer via ``{ATLASSIAN_API_URL}/ex/jira/{cloud_id}``. ``token_provider`` is called
        before every request, so a refreshed token is picked up; a 401 raises
        ``ApiUnauthorized`` and the caller decides (refresh once, or mark for re-auth)."""
        api = settings.ATLASSIAN_API_URL.rstrip("/")
        if pool is None:
            # The site's own pool on Tier 2 (``atlassian.pools``), else the app's global pool.
            pool = pools.grant_pool(cloud_id)
        return cls(
            base_url=f"{api}/ex/jira/{cloud_id}/rest/api/3",
            auth=lambda: _bearer(token_provider()),
            credential_kind=credential_kind,
            site_cloud_id=cloud_id,
            site_id=site_id,
            pool=pool,
            **kwargs,
        )

    @classmethod
    def for_legacy_api_token(
        cls,
        site_url: str,
        email: str,
        api_token_provider: Callable[[], str],
        *,
        site_id: object = None,
        cloud_id: str = "",
        **kwargs: Any,
    ) -> JiraClient:
        """Basic auth against the site URL. Refused before sending after ``LEGACY_CUTOFF``."""

        def auth() -> dict[str, str]:
            raw = f"{email}:{api_token_provider()}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}

        host = urlsplit(site_url).hostname or site_url
        kwargs.setdefault("pool", legacy_pool(cloud_id or host))
        return cls(
            base_url=f"{site_url.rstrip('/')}/rest/api/3",
            auth=auth,
            credential_kind=CredentialKind.LEGACY_API_TOKEN,
            site_cloud_id=cloud_id or host,
            site_id=site_id,
            **kwargs,
        )

    @classmethod
    def anonymous(cls, site_url: str, **kwargs: Any) -> JiraClient:
        """No credential: e.g. ``server_info()`` to check that a URL is a Jira Cloud site."""
        host = urlsplit(site_url).hostname or site_url
        return cls(
            base_url=f"{site_url.rstrip('/')}/rest/api/3",
            auth=None,
            credential_kind=CredentialKind.NONE,
            site_cloud_id=host,
            **kwargs,
        )

    def _auth_headers(self) -> dict[str, str]:
        return self._auth() if self._auth is not None else {}

    def _url(self, path: str) -> str:
        if path.startswith(AGILE_PREFIX):
            # Jira Software's API lives beside the platform's, under the same site base.
            root = self.base_url.rsplit(REST_ROOT.rstrip("/"), 1)[0]
            return f"{root}{AGILE_ROOT}{path[len(AGILE_PREFIX) :]}"
        return f"{self.base_url}/{path}"

    # -- identity ----------------------------------------------------------------------------

    def myself(self) -> dict[str, Any]:
        return self._get("myself")

    def mypermissions(
        self, permissions: str = "ADMINISTER", *, project_key: str | None = None
    ) -> dict[str, Any]:
        params = {"permissions": permissions}
        if project_key:
            params["projectKey"] = project_key
        return self._get("mypermissions", params=params)

    def has_permission(self, permission: str = "ADMINISTER") -> bool:
        """True when the credential's user holds ``permission`` (site admin by default)."""
        data = self.mypermissions(permission)
        return bool(data.get("permissions", {}).get(permission, {}).get("havePermission"))

    def server_info(self) -> dict[str, Any]:
        return self._get("serverInfo")

    # -- configuration -----------------------------------------------------------------------

    def projects(
        self, *, expand: str = "description,lead,issueTypes,url,projectKeys,insight"
    ) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "project/search", params={"expand": expand})

    def project_components(self, project_key: str) -> list[dict[str, Any]]:
        return self._get("project/{key}/components", {"key": project_key})

    def project_versions(self, project_key: str) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "project/{key}/version", path_params={"key": project_key})

    def project_roles(self, project_key: str) -> dict[str, str]:
        """``{"Administrators": "<role url>", ...}``."""
        return self._get("project/{key}/role", {"key": project_key})

    def project_role(self, project_key: str, role_id: int | str) -> dict[str, Any]:
        return self._get("project/{key}/role/{id}", {"key": project_key, "id": role_id})

    def fields(self) -> list[dict[str, Any]]:
        return self._get("field")

    def field_contexts(self, field_id: str) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "field/{id}/context", path_params={"id": field_id})

    def field_context_options(self, field_id: str, context_id: str) -> Iterator[dict[str, Any]]:
        return self._offset_pages(
            "GET",
            "field/{id}/context/{ctx}/option",
            path_params={"id": field_id, "ctx": context_id},
        )

    def statuses(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "statuses/search", page_size=200)

    def issue_types(self) -> list[dict[str, Any]]:
        return self._get("issuetype")

    def priorities(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "priority/search")

    def issue_link_types(self) -> list[dict[str, Any]]:
        return self._get("issueLinkType").get("issueLinkTypes", [])

    def users(self, *, page_size: int = 1000) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "users/search", items_key=None, page_size=page_size)

    # -- schemes, screens, field configurations (site admin) ---------------------------------

    def context_project_mapping(self, field_id: str) -> Iterator[dict[str, Any]]:
        """``{"contextId", "projectId"}`` or ``{"contextId", "isGlobalContext": true}``."""
        return self._offset_pages(
            "GET", "field/{id}/context/projectmapping", path_params={"id": field_id}
        )

    def context_issue_type_mapping(self, field_id: str) -> Iterator[dict[str, Any]]:
        """``{"contextId", "issueTypeId"}`` or ``{"contextId", "isAnyIssueType": true}``."""
        return self._offset_pages(
            "GET", "field/{id}/context/issuetypemapping", path_params={"id": field_id}
        )

    def issue_type_schemes(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "issuetypescheme", page_size=50)

    def issue_type_scheme_mapping(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "issuetypescheme/mapping", page_size=50)

    def issue_type_scheme_projects(self, project_ids: list[str]) -> Iterator[dict[str, Any]]:
        _at_most(project_ids, 100, "issue_type_scheme_projects")
        return self._offset_pages(
            "GET", "issuetypescheme/project", params={"projectId": project_ids}, page_size=50
        )

    def screens(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "screens")

    def screen_tabs(self, screen_id: int | str) -> list[dict[str, Any]]:
        return self._get("screens/{id}/tabs", {"id": screen_id})

    def screen_tab_fields(self, screen_id: int | str, tab_id: int | str) -> list[dict[str, Any]]:
        return self._get("screens/{id}/tabs/{tab}/fields", {"id": screen_id, "tab": tab_id})

    def screen_schemes(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "screenscheme", page_size=25)

    def issue_type_screen_schemes(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "issuetypescreenscheme", page_size=25)

    def issue_type_screen_scheme_mapping(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "issuetypescreenscheme/mapping", page_size=50)

    def issue_type_screen_scheme_projects(self, project_ids: list[str]) -> Iterator[dict[str, Any]]:
        _at_most(project_ids, 100, "issue_type_screen_scheme_projects")
        return self._offset_pages(
            "GET", "issuetypescreenscheme/project", params={"projectId": project_ids}, page_size=50
        )

    def field_configurations(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "fieldconfiguration", page_size=50)

    def field_configuration_items(self, configuration_id: int | str) -> Iterator[dict[str, Any]]:
        return self._offset_pages(
            "GET", "fieldconfiguration/{id}/fields", path_params={"id": configuration_id}
        )

    def field_configuration_schemes(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "fieldconfigurationscheme", page_size=50)

    def field_configuration_scheme_mapping(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "fieldconfigurationscheme/mapping", page_size=50)

    def field_configuration_scheme_projects(
        self, project_ids: list[str]
    ) -> Iterator[dict[str, Any]]:
        _at_most(project_ids, 100, "field_configuration_scheme_projects")
        return self._offset_pages(
            "GET",
            "fieldconfigurationscheme/project",
            params={"projectId": project_ids},
            page_size=50,
        )

    def permission_schemes(self) -> list[dict[str, Any]]:
        """Every permission scheme with its grants."""
        data = self._get("permissionscheme", params={"expand": "permissions"})
        return data.get("permissionSchemes") or []

    def project_permission_scheme(self, project_key: str) -> dict[str, Any]:
        return self._get("project/{key}/permissionscheme", {"key": project_key})

    def notification_schemes(self) -> Iterator[dict[str, Any]]:
        """Every notification scheme with its events and the projects using it."""
        return self._offset_pages("GET", "notificationscheme", params={"expand": "all"})

    def issue_security_schemes(self) -> list[dict[str, Any]]:
        return self._get("issuesecurityschemes").get("issueSecuritySchemes") or []

    def project_issue_security_scheme(self, project_key: str) -> dict[str, Any] | None:
        """The project's issue security scheme, or None when it uses none (Jira answers 404)."""
        try:
            return self._get("project/{key}/issuesecuritylevelscheme", {"key": project_key})
        except ApiNotFound:
            return None

    # -- filters and dashboards --------------------------------------------------------------

    def filters(self) -> Iterator[dict[str, Any]]:
        """Every filter the account can see, with its JQL, owner and share permissions."""
        return self._offset_pages(
            "GET",
            "filter/search",
            params={"expand": "description,owner,jql,sharePermissions,editPermissions"},
        )

    def dashboards(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages(
            "GET",
            "dashboard/search",
            params={"expand": "description,owner,sharePermissions,editPermissions"},
        )

    def dashboard_gadgets(self, dashboard_id: int | str) -> list[dict[str, Any]]:
        return self._get("dashboard/{id}/gadget", {"id": dashboard_id}).get("gadgets") or []

    # -- workflows and statuses --------------------------------------------------------------

    def workflows(self) -> Iterator[dict[str, Any]]:
        """Every workflow with its statuses and transitions (``links``: the from-statuses;
        none for a global transition). Needs a site admin."""
        return self._offset_pages(
            "GET", "workflows/search", params={"expand": "values.transitions"}
        )

    def workflow_scheme_projects(self, project_ids: Iterable[str | int]) -> list[dict[str, Any]]:
        """``[{"projectIds", "workflowScheme": {"defaultWorkflow", "issueTypeMappings"}}]``."""
        ids = [str(i) for i in project_ids]
        _at_most(ids, 100, "workflow_scheme_projects")
        data = self._get("workflowscheme/project", params={"projectId": ids})
        return data.get("values") or []

    def workflow_schemes(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "workflowscheme", page_size=50)

    def assign_workflow_scheme(self, project_id: str | int, scheme_id: str | int) -> None:
        """Only for a project without issues (Jira refuses the others)."""
        self._request(
            "PUT",
            "workflowscheme/project",
            json={"projectId": str(project_id), "workflowSchemeId": str(scheme_id)},
        )

    def project_statuses(self, project_key: str) -> list[dict[str, Any]]:
        """Per issue type: ``{"id", "name", "subtask", "statuses": [...]}``."""
        return self._get("project/{key}/statuses", {"key": project_key})

    def resolutions(self) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "resolution/search")

    def transitions(self, key: str, *, with_fields: bool = True) -> list[dict[str, Any]]:
        """The transitions available from the issue's current status."""
        params = {"expand": "transitions.fields"} if with_fields else None
        data = self._get("issue/{key}/transitions", {"key": key}, params=params)
        return data.get("transitions") or []

    # -- Jira Software (agile API) -------------------------------------------------------------

    def boards(self, *, project_key: str | None = None) -> Iterator[dict[str, Any]]:
        params = {"projectKeyOrId": project_key} if project_key else None
        return self._offset_pages("GET", "agile/board", params=params, page_size=50)

    def board_configuration(self, board_id: int | str) -> dict[str, Any]:
        return self._get("agile/board/{id}/configuration", {"id": board_id})

    def board_sprints(
        self, board_id: int | str, *, state: str = "future,active,closed"
    ) -> Iterator[dict[str, Any]]:
        return self._offset_pages(
            "GET",
            "agile/board/{id}/sprint",
            path_params={"id": board_id},
            params={"state": state},
            page_size=50,
        )

    # -- issues ------------------------------------------------------------------------------

    def search_jql_page(
        self,
        jql: str,
        *,
        next_page_token: str | None = None,
        fields: Iterable[str] = ("id",),
        expand: str | Iterable[str] | None = None,
        properties: Iterable[str] | None = None,
        max_results: int = 100,
        fields_by_keys: bool = False,
        reconcile_issues: Iterable[int] | None = None,
    ) -> SearchPage:
        """One page of ``POST /search/jql``. The JQL must be bounded (``project = X``)."""
        body: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": max_results}
        if next_page_token:
            body["nextPageToken"] = next_page_token
        if expand:
            body["expand"] = expand if isinstance(expand, str) else ",".join(expand)
        if properties:
            body["properties"] = list(properties)
        if fields_by_keys:
            body["fieldsByKeys"] = True
        if reconcile_issues:
            body["reconcileIssues"] = list(reconcile_issues)
        data = self._post("search/jql", body)
        token = data.get("nextPageToken") or None
        return SearchPage(
            issues=data.get("issues") or [],
            next_page_token=token,
            is_last=bool(data.get("isLast", token is None)) or token is None,
            names=data.get("names"),
            schema=data.get("schema"),
        )

    def search_jql(self, jql: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every issue matching ``jql`` (see ``search_jql_page`` for the options)."""
        token = kwargs.pop("next_page_token", None)
        while True:
            page = self.search_jql_page(jql, next_page_token=token, **kwargs)
            yield from page.issues
            if page.is_last:
                return
            token = page.next_page_token

    def approximate_count(self, jql: str) -> int:
        return int(self._post("search/approximate-count", {"jql": jql}).get("count", 0))

    def bulkfetch_issues(
        self,
        ids_or_keys: Iterable[str | int],
        *,
        fields: Iterable[str] | None = None,
        expand: Iterable[str] | None = None,
        properties: Iterable[str] | None = None,
        fields_by_keys: bool = False,
    ) -> dict[str, Any]:
        """``{"issues": [...], "issueErrors": [...]}`` for at most 100 issues."""
        ids = [str(i) for i in ids_or_keys]
        _at_most(ids, 100, "bulkfetch_issues")
        body: dict[str, Any] = {"issueIdsOrKeys": ids}
        if fields is not None:
            body["fields"] = list(fields)
        if expand:
            body["expand"] = list(expand)
        if properties:
            body["properties"] = list(properties)
        if fields_by_keys:
            body["fieldsByKeys"] = True
        return self._post("issue/bulkfetch", body)

    def get_issue(
        self,
        key: str,
        *,
        fields: Iterable[str] | None = None,
        expand: str | None = None,
        properties: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if fields is not None:
            params["fields"] = ",".join(fields)
        if expand:
            params["expand"] = expand
        if properties:
            params["properties"] = ",".join(properties)
        return self._get("issue/{key}", {"key": key}, params=params or None)

    def changelog(self, key: str) -> Iterator[dict[str, Any]]:
        return self._offset_pages("GET", "issue/{key}/changelog", path_params={"key": key})

    def changelog_page(self, key: str, *, start_at: int, max_results: int) -> list[dict[str, Any]]:
        """One page of the issue's changelog (ascending): ``max_results`` entries from
        ``start_at`` (read the newest ones of a long changelog without the rest)."""
        data = self._get(
            "issue/{key}/changelog",
            {"key": key},
            params={"startAt": start_at, "maxResults": max_results},
        )
        return list(data.get("values") or [])

    def changelog_bulkfetch_page(
        self,
        ids_or_keys: Iterable[str | int],
        *,
        next_page_token: str | None = None,
        max_results: int = 1000,
        field_ids: Iterable[str] | None = None,
    ) -> ChangelogPage:
        ids = [str(i) for i in ids_or_keys]
        _at_most(ids, 1000, "changelog_bulkfetch")
        body: dict[str, Any] = {"issueIdsOrKeys": ids, "maxResults": max_results}
        if next_page_token:
            body["nextPageToken"] = next_page_token
        if field_ids:
            body["fieldIds"] = list(field_ids)
        data = self._post("changelog/bulkfetch", body)
        return ChangelogPage(
            issue_change_logs=data.get("issueChangeLogs") or [],
            next_page_token=data.get("nextPageToken") or None,
        )

    def changelog_bulkfetch(
        self, ids_or_keys: Iterable[str | int], **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        """Every ``{"issueId", "changeHistories"}`` entry, across pages."""
        ids = list(ids_or_keys)
        token = kwargs.pop("next_page_token", None)
        while True:
            page = self.changelog_bulkfetch_page(ids, next_page_token=token, **kwargs)
            yield from page.issue_change_logs
            if page.is_last:
                return
            token = page.next_page_token

    def comments(self, key: str, *, expand: str | None = None) -> Iterator[dict[str, Any]]:
        return self._offset_pages(
            "GET",
            "issue/{key}/comment",
            path_params={"key": key},
            params={"expand": expand} if expand else None,
            items_key="comments",
        )

    def comment_list(
        self, ids: Iterable[int | str], *, expand: str | None = None
    ) -> Iterator[dict[str, Any]]:
        id_list = [int(i) for i in ids]
        _at_most(id_list, 1000, "comment_list")
        return self._offset_pages(
            "POST",
            "comment/list",
            params={"expand": expand} if expand else None,
            body={"ids": id_list},
            page_size=1000,
        )

    def worklogs(self, key: str) -> Iterator[dict[str, Any]]:
        return self._offset_pages(
            "GET",
            "issue/{key}/worklog",
            path_params={"key": key},
            items_key="worklogs",
            page_size=5000,
        )

    def worklog_updated(self, since_ms: int = 0) -> Iterator[dict[str, Any]]:
        """``{"worklogId", "updatedTime", ...}`` for worklogs changed since ``since_ms``."""
        since = since_ms
        while True:
            data = self._get("worklog/updated", params={"since": since})
            yield from data.get("values") or []
            if data.get("lastPage", True) or data.get("until") in (None, since):
                return
            since = data["until"]

    def worklog_list(self, ids: Iterable[int | str]) -> list[dict[str, Any]]:
        id_list = [int(i) for i in ids]
        _at_most(id_list, 1000, "worklog_list")
        return self._post("worklog/list", {"ids": id_list})

    def remote_links(self, key: str) -> list[dict[str, Any]]:
        return self._get("issue/{key}/remotelink", {"key": key})

    def issue_property_keys(self, key: str) -> list[str]:
        data = self._get("issue/{key}/properties", {"key": key})
        return [item["key"] for item in data.get("keys") or []]

    def issue_property(self, key: str, prop: str) -> Any:
        """The property's value (``{"key", "value"}["value"]``)."""
        return self._get("issue/{key}/properties/{prop}", {"key": key, "prop": prop}).get("value")

    def attachment_meta(self, attachment_id: str | int) -> dict[str, Any]:
        return self._get("attachment/{id}", {"id": attachment_id})

    def attachment_content(
        self,
        attachment_id: str | int,
        *,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> Iterator[bytes]:
        """The attachment's bytes, streamed. ``start``/``end`` (inclusive) ask for a byte range,
        so an interrupted download resumes where it stopped. Uses ``redirect=false`` (200/206
        from Jira itself) rather than following the 303 to the media host."""
        headers = {"Accept": "*/*"}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-{'' if end is None else end}"
        reply = self._request(
            "GET",
            "attachment/content/{id}",
            path_params={"id": attachment_id},
            params={"redirect": "false"},
            headers=headers,
            stream=True,
        )
        response = reply.response
        if start and response.status_code == 200:
            response.close()
            raise ApiBadRequest(
                "Atlassian ignored the byte range",
                status=200,
                endpoint="attachment/content/{id}",
                method="GET",
            )
        return _stream(response, chunk_size)

    def attachment_media_id(self, attachment_id: str | int) -> str | None:
        """The attachment's id in Atlassian's media service (what ADF media nodes hold): the
        content endpoint answers 303 to ``.../file/{media id}/binary``; the redirect is not
        followed. None when the answer names no media file."""
        reply = self._request(
            "GET",
            "attachment/content/{id}",
            path_params={"id": attachment_id},
            headers={"Accept": "*/*"},
            stream=True,
            follow_redirects=False,
        )
        location = reply.response.headers.get("Location", "")
        reply.response.close()
        return media_id_from_location(location)

    # -- writes (restore) --------------------------------------------------------------------

    def create_issue(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` is ``{"fields": {...}, "update": {...}, "properties": [...]}``;
        returns ``{"id", "key", "self"}``."""
        return self._post("issue", payload)

    def bulk_create_issues(self, issue_updates: list[dict[str, Any]]) -> BulkCreateResult:
        """Create up to 50 issues. Atlassian answers 201 when at least one was created and 400
        when none was; both come back as a result with per-element errors."""
        _at_most(issue_updates, 50, "bulk_create_issues")
        reply = self._request(
            "POST", "issue/bulk", json={"issueUpdates": issue_updates}, ok_statuses=(400,)
        )
        data = reply.data if isinstance(reply.data, dict) else {}
        if reply.status == 400 and not isinstance(data.get("errors"), list):
            raise self._error_for("POST", "issue/bulk", reply)
        return BulkCreateResult(
            issues=data.get("issues") or [], errors=list(data.get("errors") or [])
        )

    def add_comment(self, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` is ``{"body": <ADF>, "visibility"?: ..., "properties"?: ...}``."""
        return self._post("issue/{key}/comment", payload, {"key": key}, issue=key)

    def add_worklog(
        self,
        key: str,
        payload: dict[str, Any],
        *,
        notify_users: bool = False,
        adjust_estimate: str = "leave",
    ) -> dict[str, Any]:
        params = {"notifyUsers": str(notify_users).lower(), "adjustEstimate": adjust_estimate}
        return self._post("issue/{key}/worklog", payload, {"key": key}, params=params, issue=key)

    def create_issue_link(self, payload: dict[str, Any]) -> None:
        """``{"type": {"name"}, "inwardIssue": {"key"}, "outwardIssue": {"key"}}``."""
        self._post("issueLink", payload)

    def add_remote_link(self, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._post("issue/{key}/remotelink", payload, {"key": key}, issue=key)

    def set_issue_property(self, key: str, prop: str, value: Any) -> None:
        self._request(
            "PUT",
            "issue/{key}/properties/{prop}",
            path_params={"key": key, "prop": prop},
            json=value,
            issue=key,
        )

    def add_attachment(
        self,
        key: str,
        filename: str,
        content: bytes | BinaryIO,
        *,
        content_type: str = "application/octet-stream",
    ) -> list[dict[str, Any]]:
        """Attach one file (multipart part ``file``; Jira requires ``X-Atlassian-Token``)."""
        reply = self._request(
            "POST",
            "issue/{key}/attachments",
            path_params={"key": key},
            files={"file": (filename, content, content_type)},
            headers={"X-Atlassian-Token": "no-check"},
            issue=key,
        )
        return reply.data or []

    def edit_issue(
        self,
        key: str,
        *,
        fields: dict[str, Any] | None = None,
        update: dict[str, Any] | None = None,
    ) -> None:
        """``PUT issue/{key}`` (status, resolution, dates and Rank cannot be set this way)."""
        body: dict[str, Any] = {}
        if fields:
            body["fields"] = fields
        if update:
            body["update"] = update
        self._request(
            "PUT",
            "issue/{key}",
            path_params={"key": key},
            params={"notifyUsers": "false"},
            json=body,
            issue=key,
        )

    def transition_issue(
        self, key: str, transition_id: str, *, fields: dict[str, Any] | None = None
    ) -> None:
        """Move the issue along one transition (``fields``: what its screen requires)."""
        body: dict[str, Any] = {"transition": {"id": str(transition_id)}}
        if fields:
            body["fields"] = fields
        self._post("issue/{key}/transitions", body, {"key": key}, issue=key)

    # -- edits and deletions (roll-back) ---------------------------------------------------------

    def update_comment(self, key: str, comment_id: str | int, body: Any) -> dict[str, Any]:
        """Set a comment's ADF body (``PUT issue/{key}/comment/{id}``)."""
        reply = self._request(
            "PUT",
            "issue/{key}/comment/{id}",
            path_params={"key": key, "id": comment_id},
            params={"notifyUsers": "false"},
            json={"body": body},
            issue=key,
        )
        return reply.data or {}

    def delete_comment(self, key: str, comment_id: str | int) -> None:
        self._delete("issue/{key}/comment/{id}", {"key": key, "id": comment_id}, issue=key)

    def delete_worklog(self, key: str, worklog_id: str | int) -> None:
        self._delete(
            "issue/{key}/worklog/{id}",
            {"key": key, "id": worklog_id},
            params={"notifyUsers": "false", "adjustEstimate": "leave"},
            issue=key,
        )

    def delete_attachment(self, attachment_id: str | int, *, issue: str | None = None) -> None:
        self._delete("attachment/{id}", {"id": attachment_id}, issue=issue)

    def delete_issue_link(self, link_id: str | int, *, issue: str | None = None) -> None:
        self._delete("issueLink/{id}", {"id": link_id}, issue=issue)

    def delete_remote_link(self, key: str, link_id: str | int) -> None:
        self._delete("issue/{key}/remotelink/{id}", {"key": key, "id": link_id}, issue=key)

    def _delete(
        self,
        family: str,
        path_params: dict[str, Any],
        *,
        params: dict[str, Any] | None = None,
        issue: str | None = None,
    ) -> None:
        self._request("DELETE", family, path_params=path_params, params=params, issue=issue)

    def create_sprint(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``{"name", "originBoardId", "startDate"?, "endDate"?, "goal"?}``; a future sprint."""
        return self._post("agile/sprint", payload)

    def update_sprint(self, sprint_id: int | str, payload: dict[str, Any]) -> dict[str, Any]:
        """A partial update: ``{"state": "active"|"closed", ...}`` starts or closes it."""
        return self._post("agile/sprint/{id}", payload, {"id": sprint_id})

    def move_to_sprint(self, sprint_id: int | str, issue_keys: list[str]) -> None:
        """Into a future or active sprint (sub-tasks follow their parent)."""
        _at_most(issue_keys, 50, "move_to_sprint")
        self._post("agile/sprint/{id}/issue", {"issues": list(issue_keys)}, {"id": sprint_id})

    def rank_issues(
        self,
        issue_keys: list[str],
        *,
        before: str | None = None,
        after: str | None = None,
        rank_field_id: int | None = None,
    ) -> None:
        """Rank ``issue_keys``, in this order, just before ``before`` or just after ``after``."""
        _at_most(issue_keys, 50, "rank_issues")
        body: dict[str, Any] = {"issues": list(issue_keys)}
        if before:
            body["rankBeforeIssue"] = before
        else:
            body["rankAfterIssue"] = after
        if rank_field_id is not None:
            body["rankCustomFieldId"] = rank_field_id
        self._request("PUT", "agile/issue/rank", json=body)

    def create_version(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._post("version", payload)

    def create_component(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._post("component", payload)

    def create_project(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._post("project", payload)

    # -- configuration writes (what a restore can put back safely) ---------------------------

    def create_field_context(self, field_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``{"name", "description", "projectIds", "issueTypeIds"}`` (empty lists: global /
        every issue type)."""
        return self._post("field/{id}/context", payload, {"id": field_id})

    def create_field_options(
        self, field_id: str, context_id: str, options: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``[{"value", "disabled"?}]``, at most 1000 a request."""
        _at_most(options, 1000, "create_field_options")
        data = self._post(
            "field/{id}/context/{ctx}/option",
            {"options": options},
            {"id": field_id, "ctx": context_id},
        )
        return data.get("options") or []

    def update_field_options(
        self, field_id: str, context_id: str, options: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``[{"id", "value"?, "disabled"?}]``, at most 1000 a request."""
        _at_most(options, 1000, "update_field_options")
        data = self._request(
            "PUT",
            "field/{id}/context/{ctx}/option",
            path_params={"id": field_id, "ctx": context_id},
            json={"options": options},
        ).data
        return (data or {}).get("options") or []

    def create_filter(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._post("filter", payload)

    def create_dashboard(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._post("dashboard", payload)

    def add_gadget(self, dashboard_id: int | str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._post("dashboard/{id}/gadget", payload, {"id": dashboard_id})

    def update_version(self, version_id: int | str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._request(
            "PUT", "version/{id}", path_params={"id": version_id}, json=payload
        ).data

    def update_component(self, component_id: int | str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._request(
            "PUT", "component/{id}", path_params={"id": component_id}, json=payload
        ).data

    def add_role_actors(
        self, project_key: str, role_id: int | str, account_ids: list[str]
    ) -> dict[str, Any]:
        return self._post(
            "project/{key}/role/{id}",
            {"user": list(account_ids)},
            {"key": project_key, "id": role_id},
        )


def media_id_from_location(location: str) -> str | None:
    """``.../file/{media id}/binary?token=...`` -> the media id."""
    parts = urlsplit(location).path.split("/")
    if "file" in parts:
        index = parts.index("file")
        if index + 1 < len(parts) and parts[index + 1]:
            return parts[index + 1]
    return None


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _fill(template: str, path_params: Mapping[str, object]) -> str:
    if not path_params:
        return template
    return template.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})


def _rewinders(files: Any) -> list[Callable[[], None]]:
    """Seek uploads back to where they started, so a retried upload sends the whole file."""
    rewind = []
    for value in (files or {}).values():
        stream = value[1] if isinstance(value, tuple) else value
        if hasattr(stream, "seek") and hasattr(stream, "tell"):
            position = stream.tell()
            rewind.append(lambda s=stream, p=position: s.seek(p))
    return rewind


def _at_most(items: list, limit: int, what: str) -> None:
    if len(items) > limit:
        raise ValueError(f"{what} takes at most {limit} items, got {len(items)}")


def _stream(response: requests.Response, chunk_size: int) -> Iterator[bytes]:
    try:
        for chunk in response.iter_content(chunk_size=chunk_size):
            if chunk:
                yield chunk
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise ApiHostError(
            "attachment download broke off; resume with start=<bytes received>",
            endpoint="attachment/content/{id}",
            method="GET",
        ) from exc
    finally:
        response.close()


def _default_brownout_hook() -> BrownoutHook | None:
    path = getattr(settings, "ATLASSIAN_LEGACY_BROWNOUT_HOOK", "")
    return import_string(path) if path else None


__all__ = ["AuthClient", "BaseClient", "JiraClient", "Reply", "new_session", "user_agent"]
