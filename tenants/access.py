"""The single place that turns a Jira site's current credential into an Atlassian client.

The backup engine calls ``jira_client_for_site(site)`` and never looks at grants or legacy
credentials itself:

* vendor grant → ``JiraClient.for_grant`` with a token provider backed by tokens on demand
  (``tenants.tokens``), so every request carries a valid, single-flight-refreshed token;
* legacy API token → ``JiraClient.for_legacy_api_token``; the Atlassian client refuses it
  (``LegacyAccessRefused``) at or after ``settings.LEGACY_CUTOFF`` before sending anything, and
  the token is only decrypted when a request is actually sent;
* no usable credential, or the site waits for re-authorization → ``SiteNeedsReauthorization``
  with a reason a support agent can read.
"""

from __future__ import annotations

from typing import Any

from atlassian.client import JiraClient
from tenants.exceptions import SiteUnavailable
from tenants.models import JiraSite, LegacyCredential, OAuthGrant
from tenants.tokens import (
    SiteNeedsReauthorization,
    access_token_for_grant,
    grant_unauthorized,
    report_unauthorized,
)


class GrantTokenProvider:
    """The token provider of a grant client (``client.token_provider``). It remembers the
    token it handed out last, so a caller that got ``ApiUnauthorized`` can say so::

        try:
            client.projects()
        except ApiUnauthorized:
            client.token_provider.unauthorized()  # refresh once, or needs_reauth + raise
            client.projects()                     # retried with the new token
        client.token_provider.confirmed()         # it worked: the next 401 is a new one

    A revoked grant shows up as ``invalid_grant`` on that refresh; a 401 again with a token
    refreshed because of a 401 marks the grant ``needs_reauth``. Either way
    ``SiteNeedsReauthorization`` is raised and the tenant admins are told once.
    """

    def __init__(self, grant_id: Any) -> None:
        self.grant_id = grant_id
        self.last_token: str | None = None
        # True while the token in use came from a refresh that a 401 caused.
        self._after_401 = False

    def __call__(self) -> str:
        token = access_token_for_grant(self.grant_id)
        if token != self.last_token:  # a rotation since: any 401 history is stale
            self.last_token, self._after_401 = token, False
        return token

    def unauthorized(self) -> None:
        if self._after_401 or self.last_token is None:
            reason = "Atlassian refused a freshly refreshed access token (401)"
            grant_unauthorized(self.grant_id, reason=reason)
            raise SiteNeedsReauthorization(f"{reason}; authorize again", grant_id=self.grant_id)
        self.last_token = report_unauthorized(self.grant_id, access_token=self.last_token)
        self._after_401 = True

    def confirmed(self) -> None:
        """The token refreshed after a 401 has since been accepted: a later 401 is a new one
        (Atlassian may invalidate a token early) and earns its own refresh."""
        self._after_401 = False


def _legacy_api_token(credential_id: Any) -> str:
    token = LegacyCredential.objects.get(pk=credential_id).api_token
    if not token:
        raise SiteNeedsReauthorization("the legacy API token is no longer stored")
    return token


def jira_client_for_site(site: JiraSite | int, **client_kwargs: Any) -> JiraClient:
    """A ``JiraClient`` for the site's current credential (see the module docstring).
    ``client_kwargs`` go to the client (e.g. ``retry``, ``max_wait``, ``session``)."""
    site_id = site.pk if isinstance(site, JiraSite) else site
    current = JiraSite.objects.select_related("grant", "legacy_credential").get(pk=site_id)
    if current.status == JiraSite.Status.NEEDS_REAUTH:
        raise SiteNeedsReauthorization(
            current.status_reason or "the site needs re-authorization", site_id=site_id
        )
    if current.status in (JiraSite.Status.DISCONNECTED, JiraSite.Status.OFFBOARDED):
        raise SiteUnavailable(
            f"the site is {current.status}: {current.status_reason or 'no reason recorded'}",
            site_id=site_id,
        )
    if current.grant is not None:
        grant = current.grant
        if grant.status != OAuthGrant.Status.ACTIVE:
            raise SiteNeedsReauthorization(
                grant.status_reason or f"the grant is {grant.status}",
                site_id=site_id,
                grant_id=grant.pk,
            )
        provider = GrantTokenProvider(grant.pk)
        client = JiraClient.for_grant(
            current.cloud_id, token_provider=provider, site_id=site_id, **client_kwargs
        )
        client.token_provider = provider
        return client
    credential = current.legacy_credential
    if credential is not None:
        if credential.kind != LegacyCredential.Kind.API_TOKEN:
            raise SiteNeedsReauthorization(
                "the site uses the customer's own OAuth app, which is no longer allowed; "
                "connect it through the vendor app",
                site_id=site_id,
            )
        if credential.status != LegacyCredential.Status.ACTIVE or not credential.has_secret:
            raise SiteNeedsReauthorization(
                f"the legacy API token is {credential.status} and no secret is stored; "
                "connect the site through the vendor app",
                site_id=site_id,
            )
        credential_id = credential.pk
        return JiraClient.for_legacy_api_token(
            current.url,
            credential.email,
            lambda: _legacy_api_token(credential_id),
            site_id=site_id,
            cloud_id=current.cloud_id,
            **client_kwargs,
        )
    raise SiteNeedsReauthorization(
        "the site has no credential; connect it through the vendor app", site_id=site_id
    )


__all__ = [
    "GrantTokenProvider",
    "SiteNeedsReauthorization",
    "SiteUnavailable",
    "jira_client_for_site",
]
