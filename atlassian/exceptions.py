"""What can go wrong when we talk to Atlassian, as a small taxonomy callers can act on.

Modelled on Sentry's Jira integration: transport failures and HTTP statuses become domain
exceptions, so a backup task can say "quota exhausted, resume at 14:00" or "the user must
re-authorize" instead of crashing. Every message is safe to log and to show to support staff:
no tokens, no client secret, no request body, no Authorization header ever goes into one.
"""

from __future__ import annotations

from typing import Any


class AtlassianError(Exception):
    """Base class. ``status`` is the HTTP status (None when no response arrived)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        endpoint: str = "",
        method: str = "",
    ) -> None:
        self.message = message[:500]
        self.status = status
        self.endpoint = endpoint
        self.method = method
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f" ({self.method} {self.endpoint})" if self.endpoint else ""
        status = f" [{self.status}]" if self.status is not None else ""
        return f"{self.message}{status}{where}"


class ApiHostError(AtlassianError):
    """The host could not be reached, or the connection broke before a full response arrived."""


class ApiTimeoutError(AtlassianError):
    """No response within the timeout. For a write, the outcome is unknown."""


class ApiUnauthorized(AtlassianError):
    """401: the access token is invalid or expired, or access was revoked."""


class ApiForbidden(AtlassianError):
    """403: the credential works but lacks a permission or scope (or the app is blocked)."""


class ApiNotFound(AtlassianError):
    """404/410: the site was deleted, the object is gone, or the endpoint was removed."""


class ApiRateLimited(AtlassianError):
    """A 429 we did not (or could not) wait out.

    ``retry_after`` is seconds from now until a request may be sent again; ``reason`` is
    Atlassian's ``RateLimit-Reason`` (``jira-quota-global-based``, ``jira-burst-based``, ...);
    ``pool`` names the points pool when the reason is a quota.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        reason: str = "",
        pool: str = "",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("status", 429)
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.reason = reason
        self.pool = pool

    @property
    def is_quota(self) -> bool:
        return self.reason.startswith("jira-quota")


class BudgetExhausted(ApiRateLimited):
    """Refused by our own points budget before anything was sent: the pool's hour has no room
    for this priority (``atlassian.admission``). Handled like a 429: try again later."""


class ApiBadRequest(AtlassianError):
    """400 (or 413/422): Atlassian rejected the request; ``error_messages`` and ``errors`` are
    Atlassian's own ``{"errorMessages": [...], "errors": {field: message}}``."""

    def __init__(
        self,
        message: str,
        *,
        error_messages: list[str] | None = None,
        errors: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.error_messages = error_messages or []
        self.errors = errors or {}


class ApiServerError(AtlassianError):
    """5xx after the retries we allow ourselves."""


class ApiBadResponse(AtlassianError):
    """A 2xx whose body cannot be read (an HTML maintenance page from a proxy, truncated JSON):
    transient, retried like a 5xx when the request may be repeated."""


class InvalidGrant(AtlassianError):
    """The token endpoint answered ``invalid_grant`` or ``unauthorized_client``: the refresh
    token (or code) is dead and only the user can fix it by authorizing again. Never retried."""

    def __init__(self, message: str, *, error: str = "invalid_grant", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.error = error


class LegacyAccessRefused(AtlassianError):
    """We refused, before sending anything, to use a legacy credential (an API token or a
    customer-owned OAuth app): the cutoff has passed or a brownout window is active."""

    def __init__(self, message: str, *, reason: str = "cutoff", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


__all__ = [
    "ApiBadRequest",
    "ApiBadResponse",
    "ApiForbidden",
    "ApiHostError",
    "ApiNotFound",
    "ApiRateLimited",
    "ApiServerError",
    "ApiTimeoutError",
    "ApiUnauthorized",
    "AtlassianError",
    "BudgetExhausted",
    "InvalidGrant",
    "LegacyAccessRefused",
]


class DeliveryFailed(Exception):
    """An outbound webhook's receiver could not be reached or did not answer 2xx
    (``atlassian.outbound``); the message names no secret."""
