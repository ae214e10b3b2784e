"""Tokens on demand: a valid access token for a grant (or a site), refreshed ahead of expiry.

Atlassian rotates refresh tokens: every refresh returns a new one and disables the one used
(which still works for a 10-minute reuse interval; reused later, the whole family may be
revoked). So a refresh must be

* **single-flight** per grant: the refresh runs inside a transaction holding the grant's row
  lock (``select_for_update`` on PostgreSQL; on SQLite the settings open every transaction with
  ``BEGIN IMMEDIATE``, which serialises writers). The grant is re-read inside the lock and only
  refreshed if it still needs it, so 20 callers waiting on one expired grant cause one refresh;
* **persisted before use**: the new tokens are committed before the access token is returned;
* **recoverable**: the old refresh token stays in the row until the new one is committed, so if
  the worker dies between Atlassian's answer and our commit, the next attempt (within the reuse
  interval) exchanges the old token again and recovers the grant.

Transient failures (5xx, timeouts) are retried briefly by ``AuthClient.refresh`` and then raise
``TokenUnavailable`` with the grant untouched. ``invalid_grant`` marks the grant and its sites
``needs_reauth`` (once: the tenant admins get one e-mail) and is never retried.

Do not use requests-oauthlib's automatic refresh anywhere: it has no lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from atlassian.client import AuthClient
from atlassian.exceptions import (
    ApiHostError,
    ApiServerError,
    ApiTimeoutError,
    ApiUnauthorized,
    AtlassianError,
    InvalidGrant,
)
from tenants.exceptions import SiteNeedsReauthorization, TokenUnavailable
from tenants.models import JiraSite, OAuthGrant
from tenants.services.grants import grant_mark_needs_reauth, grant_store_rotated_tokens

logger = logging.getLogger(__name__)

# Refresh this long before the access token expires, so a request never leaves with a token
# that dies on the way.
REFRESH_AHEAD = timedelta(minutes=5)

# Test seam (ours): called inside the lock after Atlassian answered a refresh and before the
# new tokens are committed. A test sets it to a function that raises, to simulate a worker that
# dies after Atlassian rotated the token but before our commit.
_after_refresh_response: Callable[[OAuthGrant], None] | None = None

# Which AuthClient to build (tests may pass one with a shorter retry base via ``auth_client``).
AuthClientFactory = Callable[[], AuthClient]


def _is_fresh(grant: OAuthGrant) -> bool:
    expires = grant.access_token_expires_at
    return bool(
        grant.access_token_ciphertext
        and expires is not None
        and expires - REFRESH_AHEAD > timezone.now()
    )


def _check_usable(grant: OAuthGrant) -> None:
    if grant.status != OAuthGrant.Status.ACTIVE:
        raise SiteNeedsReauthorization(
            grant.status_reason or f"the grant is {grant.status}", grant_id=grant.pk
        )


def access_token_for_site(site: JiraSite | int, *, auth_client: AuthClientFactory = AuthClient):
    """A valid access token for the vendor grant the site uses now."""
    site_id = site.pk if isinstance(site, JiraSite) else site
    current = JiraSite.objects.only("id", "status", "status_reason", "grant_id").get(pk=site_id)
    if current.status == JiraSite.Status.NEEDS_REAUTH:
        raise SiteNeedsReauthorization(
            current.status_reason or "the site needs re-authorization", site_id=site_id
        )
    if current.grant_id is None:
        raise SiteNeedsReauthorization(
            "the site is not connected through the vendor app", site_id=site_id
        )
    return access_token_for_grant(current.grant_id, auth_client=auth_client)


def access_token_for_grant(grant_id: Any, *, auth_client: AuthClientFactory = AuthClient) -> str:
    """A valid access token for the grant, refreshing (single-flight) when it expires within
    ``REFRESH_AHEAD``. Raises ``SiteNeedsReauthorization`` or ``TokenUnavailable``."""
    grant = OAuthGrant.objects.get(pk=grant_id)
    _check_usable(grant)
    if _is_fresh(grant):
        return grant.access_token
    return refresh_grant(grant_id, auth_client=auth_client)


def refresh_grant(
    grant_id: Any,
    *,
    force: bool = False,
    stale_access_token: str | None = None,
    rotated_before: datetime | None = None,
    auth_client: AuthClientFactory = AuthClient,
) -> str:
    """Refresh the grant under its row lock and return the (committed) access token.

    Without ``force`` nothing is sent when, once the lock is held, the token turns out fresh
    (another caller refreshed it meanwhile). ``force`` refreshes anyway (upkeep of idle grants);
    ``stale_access_token`` refreshes only if the stored token is still that one (a 401 seen
    with it), so concurrent callers that saw the same 401 cause one refresh.
    ``rotated_before`` (upkeep of idle grants) refreshes only if the grant was last rotated
    before that moment, so two upkeep runs cause one refresh.
    """
    failure: str | None = None
    with transaction.atomic():
        grant = OAuthGrant.objects.select_for_update().get(pk=grant_id)
        _check_usable(grant)
        if rotated_before is not None:
            last = grant.last_rotated_at or grant.family_started_at or grant.created_at
            if last >= rotated_before:
                return grant.access_token
        elif stale_access_token is not None:
            if grant.access_token != stale_access_token and _is_fresh(grant):
                return grant.access_token
        elif not force and _is_fresh(grant):
            return grant.access_token
        refresh_token = grant.refresh_token
        if not refresh_token:
            failure = "no refresh token is stored for this grant; authorize again"
        else:
            client = auth_client()
            try:
                response = client.refresh(refresh_token)
            except InvalidGrant as exc:
                failure = f"Atlassian refused the refresh token ({exc.error}); authorize again"
            except (ApiServerError, ApiTimeoutError, ApiHostError) as exc:
                logger.warning("refresh of grant %s failed transiently: %s", grant_id, exc)
                raise TokenUnavailable(
                    f"Atlassian's token endpoint is unavailable ({type(exc).__name__}); "
                    "the grant is unchanged, try again shortly"
                ) from None
            except ApiUnauthorized as exc:
                # The token endpoint answers 401 when *our* client id/secret is refused: a
                # vendor configuration problem, not the customer's. Never blame the grant.
                logger.error("token endpoint refused the vendor app's credentials: %s", exc)
                raise TokenUnavailable(
                    "the token endpoint refused the vendor app's client credentials"
                ) from None
            except AtlassianError as exc:
                logger.warning("refresh of grant %s failed: %s", grant_id, exc)
                raise TokenUnavailable(f"the token refresh failed: {exc}") from None
            else:
                if _after_refresh_response is not None:
                    _after_refresh_response(grant)
                # The old refresh token is replaced only here, in the transaction that commits
                # the new one; a response without refresh_token keeps the old one.
                grant_store_rotated_tokens(
                    grant=grant,
                    access_token=response.access_token,
                    refresh_token=response.refresh_token,
                    access_token_expires_at=timezone.now() + timedelta(seconds=response.expires_in),
                    acting_user=None,
                )
                logger.info("grant %s refreshed", grant_id)
                return response.access_token
            finally:
                client.close()
        # Still inside the lock: the callers waiting behind us see needs_reauth and send
        # nothing to Atlassian.
        _mark_needs_reauth(grant, failure)
    raise SiteNeedsReauthorization(failure, grant_id=grant_id)


def report_unauthorized(
    grant_id: Any, *, access_token: str, auth_client: AuthClientFactory = AuthClient
) -> str:
    """An API call with ``access_token`` answered 401. Refresh once (single-flight); a
    revoked grant then shows up as ``invalid_grant`` and becomes ``needs_reauth``. If the
    token had already been replaced, the current one is returned without a refresh. A caller
    that gets 401 again with the returned token should call ``grant_unauthorized``."""
    return refresh_grant(grant_id, stale_access_token=access_token, auth_client=auth_client)


def grant_unauthorized(grant_id: Any, *, reason: str) -> None:
    """The API refused even a freshly refreshed token (401): the grant needs re-authorization."""
    with transaction.atomic():
        grant = OAuthGrant.objects.select_for_update().get(pk=grant_id)
        _mark_needs_reauth(grant, reason)


def _mark_needs_reauth(grant: OAuthGrant, reason: str) -> None:
    if grant_mark_needs_reauth(grant=grant, reason=reason, acting_user=None):
        from tenants.emails import send_grant_needs_reauth

        grant_id = grant.pk
        transaction.on_commit(lambda: send_grant_needs_reauth(grant_id=grant_id))


__all__ = [
    "REFRESH_AHEAD",
    "SiteNeedsReauthorization",
    "TokenUnavailable",
    "access_token_for_grant",
    "access_token_for_site",
    "grant_unauthorized",
    "refresh_grant",
    "report_unauthorized",
]
