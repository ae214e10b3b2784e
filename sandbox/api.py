"""Plumbing shared by the Jira REST handlers: request context, results, errors, paging."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from werkzeug.wrappers import Request

from sandbox.model import BASE, Issue, Site, User
from sandbox.ratelimit import Limited

if TYPE_CHECKING:
    from sandbox.state import SandboxState

ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."


@dataclass
class Result:
    """A handler's answer. `core`/`identity` count returned objects for the points model."""

    status: int = 200
    body: Any = None  # dict/list (serialized with orjson), bytes, or None
    core: int = 0
    identity: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    mimetype: str = "application/json"
    based: bool = False  # True when the body already has the base URL in place of BASE


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        messages: list[str] | str | None = None,
        errors: dict | None = None,
        headers: dict | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(status, messages)
        if isinstance(messages, str):
            messages = [messages]
        self.status = status
        self.headers = headers or {}
        self.body = (
            body
            if body is not None
            else {
                "errorMessages": messages or [],
                "errors": errors or {},
            }
        )


class RateLimitedError(ApiError):
    def __init__(self, limited: Limited, now: float) -> None:
        super().__init__(429, "Rate limit exceeded.", headers=limited.headers(now))
        self.limited = limited


@dataclass
class Ctx:
    state: SandboxState
    site: Site
    user: User
    request: Request
    credential: str
    client_id: str | None = None
    scopes: frozenset[str] | None = None  # None for Basic auth (API tokens carry every scope)
    base: str = ""  # what `self` links start with: .../ex/jira/{cloudid} or .../site/{name}
    _json: Any = None

    @property
    def now(self) -> float:
        return self.state.clock.time()

    def arg(self, name: str, default: Any = None) -> Any:
        return self.request.args.get(name, default)

    def int_arg(self, name: str, default: int, maximum: int | None = None, minimum: int = 0) -> int:
        return to_int(self.request.args.get(name), name, default, maximum, minimum)

    def json(self) -> Any:
        if self._json is None:
            raw = self.request.get_data()
            try:
                self._json = orjson.loads(raw) if raw else {}
            except orjson.JSONDecodeError as exc:
                raise ApiError(400, f"Unexpected character in JSON body: {exc}") from exc
        return self._json

    def body_dict(self) -> dict:
        body = self.json()
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object.")
        return body

    def issue(self, id_or_key: str) -> Issue:
        issue = self.site.issue(id_or_key)
        if issue is None:
            raise ApiError(404, ISSUE_NOT_FOUND)
        return issue

    def check_issue_write(self, issue: Issue) -> None:
        limited = self.state.limiter.check_issue_write(self.site.cloud_id, str(issue.id), self.now)
        if limited is not None:
            raise RateLimitedError(limited, self.now)

    @property
    def is_admin(self) -> bool:
        return self.user.account_id in self.site.admins


def to_int(raw: Any, name: str, default: int, maximum: int | None = None, minimum: int = 0) -> int:
    if raw is None or raw == "":
        value = default
    else:
        try:
            value = int(raw)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, f"The '{name}' parameter must be an integer.") from exc
    if value < minimum:
        raise ApiError(400, f"The '{name}' parameter must be at least {minimum}.")
    return min(value, maximum) if maximum is not None else value


def offset_page(
    values: list, start_at: int, max_results: int, self_path: str, extra: dict | None = None
) -> dict[str, Any]:
    """Jira's PageBean: startAt/maxResults/total/isLast/values (+ nextPage)."""
    chunk = values[start_at : start_at + max_results]
    is_last = start_at + len(chunk) >= len(values)
    page: dict[str, Any] = {
        "self": f"{BASE}{self_path}",
        "maxResults": max_results,
        "startAt": start_at,
        "total": len(values),
        "isLast": is_last,
        "values": chunk,
    }
    if not is_last:
        page["nextPage"] = (
            f"{BASE}{self_path}?startAt={start_at + max_results}&maxResults={max_results}"
        )
    if extra:
        page.update(extra)
    return page
