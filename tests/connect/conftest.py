"""Fixtures for the connect flow and tokens on demand: the portal pointed at the sandbox over
real HTTP, three personas (owner, teammate, outsider) and helpers to walk the 3LO dance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from atlassian.client import AuthClient
from atlassian.retry import RetryPolicy
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    MembershipFactory,
    OAuthGrantFactory,
    TenantFactory,
)

TEST_REDIRECT_URI = "http://testserver/connect/callback/"


@pytest.fixture
def portal_sandbox(sandbox, settings):
    """The sandbox stands in for auth.atlassian.com and api.atlassian.com, and knows our
    test callback URL."""
    app = sandbox.state.clients[sandbox.client_id]
    if TEST_REDIRECT_URI not in app.redirect_uris:
        app.redirect_uris.append(TEST_REDIRECT_URI)
    settings.ATLASSIAN_AUTH_URL = sandbox.url
    settings.ATLASSIAN_API_URL = sandbox.url
    settings.ATLASSIAN_CLIENT_ID = sandbox.client_id
    settings.ATLASSIAN_CLIENT_SECRET = sandbox.client_secret
    settings.ATLASSIAN_REDIRECT_URI = TEST_REDIRECT_URI
    sandbox.state.request_log.clear()
    return sandbox


@pytest.fixture
def fast_auth_client():
    """An AuthClient factory whose retries wait milliseconds instead of seconds."""
    return lambda: AuthClient(retry=RetryPolicy(base=0.01, cap=0.05))


@dataclass
class People:
    tenant: object
    owner: object
    admin: object
    viewer: object
    outsider: object


@pytest.fixture
def people(db) -> People:
    tenant = TenantFactory(slug="acme-corp", name="Acme Corp")
    owner = MembershipFactory(tenant=tenant, role="owner").user
    admin = MembershipFactory(tenant=tenant, role="admin").user
    viewer = MembershipFactory(tenant=tenant, role="viewer").user
    outsider = MembershipFactory(role="owner").user  # owner of another tenant
    return People(tenant, owner, admin, viewer, outsider)


@pytest.fixture
def owner_client(people) -> Client:
    client = Client()
    client.force_login(people.owner)
    return client


def follow_authorize(location: str) -> str:
    """Walk the sandbox's authorize page (scripted consent) and return the path + query of the
    callback it redirects to, for the Django test client."""
    from atlassian.client import new_session

    with new_session() as http:
        answer = http.get(location, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == TEST_REDIRECT_URI
    return f"{callback.path}?{callback.query}"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def start_flow(client: Client, tenant_slug: str) -> str:
    """Press "Continue to Atlassian" (a POST: only a POST mints a state); returns the URL of
    Atlassian's consent page."""
    response = client.post(f"/t/{tenant_slug}/connect/")
    assert response.status_code == 302
    return response["Location"]


READ_ONLY_SCOPES = "offline_access read:jira-work read:me"


def with_scopes(location: str, scopes: str) -> str:
    """The authorize URL asking for other scopes, as a consent an organisation restricted (or
    a tampered link) would carry back."""
    parts = urlsplit(location)
    query = query_of(location) | {"scope": scopes}
    return parts._replace(query=urlencode(query)).geturl()


def connected_grant(sandbox, *, tenant=None, sites=("acme",), expired=True):
    """A grant stored with real sandbox tokens (as a finished connect flow leaves it), its
    access token already expired (so the next caller must refresh) unless ``expired`` is False.
    Returns (grant, [JiraSite])."""
    tokens = sandbox.connect(sites=list(sites))
    tenant = tenant or TenantFactory()
    expires = timezone.now() + (timedelta(minutes=-1) if expired else timedelta(hours=1))
    grant = OAuthGrantFactory(
        account_id=sandbox.admin.account_id,
        account_email=sandbox.admin.email,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        access_token_expires_at=expires,
        last_rotated_at=timezone.now(),
    )
    jira_sites = []
    for name in sites:
        remote = sandbox.site(name)
        site = JiraSiteFactory(tenant=tenant, cloud_id=remote.cloud_id, url=remote.url, name=name)
        GrantSiteFactory(grant=grant, site=site, in_use=True)
        jira_sites.append(site)
    sandbox.state.request_log.clear()
    return grant, jira_sites


def token_requests(sandbox):
    return sandbox.requests_where(method="POST", path="/oauth/token")
