"""pytest fixtures for tests that need Atlassian: `sandbox_server` (one server per session) and
`sandbox` (a fresh small world per test).

Enable with `pytest_plugins = ["sandbox.pytest_plugin"]` in a conftest.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from sandbox.model import Site, User
from sandbox.server import RunningSandbox, start
from sandbox.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URIS,
    SandboxState,
)

TEST_SEED = "test"
BACKUP_SCOPES = (
    "read:jira-work write:jira-work read:jira-user manage:jira-project "
    "manage:jira-configuration offline_access read:me"
)
# Jira Software's granular scopes (the agile API takes no classic scope): what reading and
# restoring boards, sprints and rank needs. `sandbox.connect(scope=f"{BACKUP_SCOPES} {...}")`.
SOFTWARE_SCOPES = (
    "read:board-scope:jira-software write:board-scope:jira-software "
    "read:board-scope.admin:jira-software read:sprint:jira-software write:sprint:jira-software "
    "read:epic:jira-software write:issue:jira-software read:issue-details:jira read:jql:jira "
    "read:project:jira"
)


@dataclass
class Tokens:
    access_token: str
    refresh_token: str | None
    scope: str
    expires_in: int


class Sandbox:
    """A handle on the running sandbox for one test. Unknown attributes are looked up on
    the state, so `sandbox.clock.advance(days=90)` and `sandbox.faults.clear()` work."""

    client_id = DEFAULT_CLIENT_ID
    client_secret = DEFAULT_CLIENT_SECRET
    redirect_uri = DEFAULT_REDIRECT_URIS[0]
    scopes = BACKUP_SCOPES

    def __init__(self, url: str, state: SandboxState) -> None:
        self.url = url
        self.state = state

    def __getattr__(self, name: str) -> Any:
        return getattr(self.state, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # `sandbox.rate_limits_enabled = False` must reach the state, not this handle.
        if name in ("url", "state"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.state, name, value)

    @property
    def auth_url(self) -> str:
        """Stands in for https://auth.atlassian.com."""
        return self.url

    @property
    def api_url(self) -> str:
        """Stands in for https://api.atlassian.com."""
        return self.url

    def settings(self) -> dict[str, str]:
        """Environment the portal reads to talk to this sandbox."""
        return {
            "ATLASSIAN_AUTH_URL": self.url,
            "ATLASSIAN_API_URL": self.url,
            "ATLASSIAN_CLIENT_ID": self.client_id,
            "ATLASSIAN_CLIENT_SECRET": self.client_secret,
            "ATLASSIAN_REDIRECT_URI": self.redirect_uri,
        }

    @property
    def sites(self) -> list[Site]:
        return list(self.state.sites.values())

    def site(self, ref: Site | str) -> Site:
        return self.state.site(ref)

    def jira_url(self, site: Site | str) -> str:
        """Base for 3LO calls: {api}/ex/jira/{cloudid} (append /rest/api/3/...)."""
        return f"{self.url}/ex/jira/{self.state.site(site).cloud_id}"

    def authorize_url(self, state: str = "xyz", scope: str | None = None, **extra: str) -> str:
        params = {
            "audience": "api.atlassian.com",
            "client_id": self.client_id,
            "scope": scope or self.scopes,
            "redirect_uri": self.redirect_uri,
            "state": state,
            "response_type": "code",
            "prompt": "consent",
            **extra,
        }
        return f"{self.url}/authorize?" + "&".join(
            f"{k}={requests.utils.quote(v, safe='')}" for k, v in params.items()
        )

    def connect(
        self,
        user: User | str | None = None,
        sites: Iterable[Site | str] | None = None,
        scope: str | None = None,
    ) -> Tokens:
        """Run the whole 3LO dance over HTTP (scripted consent) and return the tokens."""
        user = user or self.state.admin
        previous = self.state.consent
        self.state.consent_as(user, sites)
        try:
            csrf = secrets.token_urlsafe(8)
            answer = requests.get(
                self.authorize_url(csrf, scope), allow_redirects=False, timeout=10
            )
            query = parse_qs(urlparse(answer.headers["Location"]).query)
            assert query["state"] == [csrf]
            code = query["code"][0]
        finally:
            self.state.consent = previous
        response = requests.post(
            f"{self.url}/oauth/token",
            json={
                "grant_type": "authorization_code",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "code": code,
                "redirect_uri": self.redirect_uri,
            },
            timeout=10,
        )
        response.raise_for_status()
        data = response.json()
        return Tokens(
            data["access_token"], data.get("refresh_token"), data["scope"], data["expires_in"]
        )


@pytest.fixture(scope="session")
def sandbox_server() -> Iterable[RunningSandbox]:
    running = start(SandboxState(seed=TEST_SEED, projects=2, issues=20))
    yield running
    running.stop()


@pytest.fixture
def sandbox(sandbox_server: RunningSandbox) -> Sandbox:
    """A fresh, small, seeded world on the session's server: sites `acme` and `globex`
    (2 projects, 20 issues each), `admin@acme.test` (admin of both), `dev@acme.test`."""
    sandbox_server.state.reset(seed=TEST_SEED, projects=2, issues=20)
    return Sandbox(sandbox_server.url, sandbox_server.state)
