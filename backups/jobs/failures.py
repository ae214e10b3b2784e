"""The one map from what went wrong in a unit of work to what happens to the job.

Backup and restore use it alike (through the driver). Each row, in the order it is matched:

========================================  ===========  ==========================================
what was raised                           action       the job
========================================  ===========  ==========================================
``NotReady`` (search not settled yet)     NOT_READY    handed back, tried again later; no attempt
``TenantNotActive``                       STOP         cancelled, the reason names the suspension
``ApiRateLimited``, quota reason          WAIT         handed back until the pool's reset (the
                                                       client's hold stops every job of the pool)
``ApiRateLimited``, burst reason          WAIT         handed back for the endpoint's Retry-After
``ApiRateLimited``, per-issue reason      WAIT         handed back while that issue's writes space
``ApiUnauthorized`` (after the driver's   REAUTH       paused for re-authorization (the driver
refresh-once), ``InvalidGrant``,                       refreshed once first; tenants marked the
``SiteNeedsReauthorization``,                          grant and told the admins once)
``LegacyAccessRefused``
``SiteUnavailable``                       FAIL         failed: the site is disconnected/offboarded
``ApiForbidden``                          PERMISSION   failed, the reason names the permission
``ApiNotFound``                           NOT_FOUND    site gone (disconnected) if the gateway no
                                                       longer serves the site, else TRANSIENT
5xx, timeouts, unreachable host, an       TRANSIENT    retried with backoff; failed after
unreadable 2xx body, token endpoint                    ``BACKUPS_MAX_TRANSIENT_FAILURES`` in a
down, ``DatabaseError``                                row (progress resets the count)
damaged snapshot (``SnapshotDamaged``,    FAIL         failed, the reason names the objects
``ManifestError``, ``ShardError``)
``ScopeError``                            FAIL         failed with the scope's problem
another ``AtlassianError``                FAIL         failed: "Atlassian refused a request"
anything else                             FAIL         failed with the class and message
========================================  ===========  ==========================================

``LeaseLost`` is not in the map: the job belongs to another worker and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DatabaseError

from atlassian.exceptions import (
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
from backups.exceptions import NotReady, ScopeError, SnapshotDamaged, TenantNotActive
from backups.snapshots.manifest import ManifestError
from backups.snapshots.shards import ShardError
from tenants.access import SiteUnavailable
from tenants.keys_wrapping import KmsKeyUnavailable
from tenants.tokens import SiteNeedsReauthorization, TokenUnavailable

NOT_READY = "not_ready"
KEY_UNAVAILABLE = "key_unavailable"
STOP = "stop"
WAIT = "wait"
REAUTH = "reauth"
PERMISSION = "permission"
NOT_FOUND = "not_found"
TRANSIENT = "transient"
FAIL = "fail"

# A job whose tenant's own KMS key is disabled is handed back and looks again this often.
KEY_RETRY_SECONDS = 900.0

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ApiServerError,
    ApiTimeoutError,
    ApiHostError,
    ApiBadResponse,
    TokenUnavailable,
    DatabaseError,
)
REAUTH_ERRORS: tuple[type[BaseException], ...] = (
    ApiUnauthorized,
    InvalidGrant,
    SiteNeedsReauthorization,
    LegacyAccessRefused,
)
DAMAGE_ERRORS: tuple[type[BaseException], ...] = (SnapshotDamaged, ManifestError, ShardError)

# (method, endpoint family) -> the Jira permission a 403 there says we lack.
PERMISSIONS: dict[tuple[str, str], str] = {
    ("POST", "project"): "ADMINISTER (create projects)",
    ("POST", "version"): "ADMINISTER_PROJECTS (create versions)",
    ("POST", "component"): "ADMINISTER_PROJECTS (create components)",
    ("POST", "issue"): "CREATE_ISSUES",
    ("POST", "issue/bulk"): "CREATE_ISSUES",
    ("POST", "issue/{key}/comment"): "ADD_COMMENTS",
    ("POST", "issue/{key}/worklog"): "WORK_ON_ISSUES (log work)",
    ("POST", "issue/{key}/attachments"): "CREATE_ATTACHMENTS",
    ("POST", "issue/{key}/remotelink"): "LINK_ISSUES",
    ("POST", "issueLink"): "LINK_ISSUES",
    ("PUT", "issue/{key}/properties/{prop}"): "EDIT_ISSUES",
}


@dataclass(frozen=True)
class Failure:
    """What the driver does about an exception: ``action`` (a constant above), a reason a
    support agent can read, and for WAIT / NOT_READY how long to wait."""

    action: str
    reason: str
    countdown: float = 0.0


def classify(exc: BaseException) -> Failure:
    """The row of the map for ``exc`` (see the module docstring)."""
    if isinstance(exc, NotReady):
        return Failure(NOT_READY, exc.reason, exc.seconds)
    if isinstance(exc, KmsKeyUnavailable):
        return Failure(
            KEY_UNAVAILABLE,
            f"paused: the customer's own KMS key for this tenant's backups is unavailable "
            f"({exc.code}); the job resumes by itself once the key is enabled again",
            KEY_RETRY_SECONDS,
        )
    if isinstance(exc, TenantNotActive):
        return Failure(STOP, str(exc))
    if isinstance(exc, ApiRateLimited):
        return Failure(WAIT, rate_limit_reason(exc), max(1.0, exc.retry_after))
    if isinstance(exc, SiteUnavailable):
        return Failure(FAIL, f"site unavailable: {exc.reason}")
    if isinstance(exc, REAUTH_ERRORS):
        return Failure(REAUTH, f"needs re-authorization: {getattr(exc, 'reason', None) or exc}")
    if isinstance(exc, ApiForbidden):
        return Failure(PERMISSION, f"permission missing: {permission_of(exc)}: {exc}")
    if isinstance(exc, ApiNotFound):
        return Failure(NOT_FOUND, str(exc))
    if isinstance(exc, TRANSIENT_ERRORS):
        return Failure(TRANSIENT, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, SnapshotDamaged):
        return Failure(
            FAIL,
            f"{exc}; the restore stopped (restore again choosing to skip damaged objects to "
            "restore the rest)",
        )
    if isinstance(exc, DAMAGE_ERRORS):
        return Failure(FAIL, f"the snapshot cannot be read: {exc}")
    if isinstance(exc, ScopeError):
        return Failure(FAIL, str(exc))
    if isinstance(exc, AtlassianError):
        return Failure(FAIL, f"Atlassian refused a request ({type(exc).__name__}): {exc}")
    return Failure(FAIL, f"internal error: {type(exc).__name__}: {exc}")


def rate_limit_reason(exc: ApiRateLimited) -> str:
    where = f"{exc.method} {exc.endpoint}".strip()
    if exc.is_quota:
        pool = exc.pool or "points"
        return (
            f"waiting for Atlassian's rate limit: the {pool} pool's hourly quota is used up; "
            f"every job of the pool waits for its reset ({exc.reason})"
        )
    if exc.reason == "jira-burst-based":
        return f"waiting for Atlassian's rate limit: burst limit on {where}, slowing down"
    if exc.reason == "jira-per-issue-on-write":
        return "waiting for Atlassian's rate limit: writes to one issue are spaced out"
    return f"waiting for Atlassian's rate limit ({exc.reason or 'no reason given'})"


def permission_of(exc: ApiForbidden) -> str:
    """The permission (or scope) a 403 says the credential lacks, by the request it refused."""
    named = PERMISSIONS.get((exc.method, exc.endpoint))
    if named:
        return named
    if exc.method in ("GET", "HEAD") or exc.endpoint.startswith("search"):
        return "BROWSE_PROJECTS (read)"
    return f"the permission {exc.method} {exc.endpoint} needs".strip()


__all__ = ["Failure", "classify", "permission_of", "rate_limit_reason"]
