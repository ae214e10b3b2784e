"""Fixtures for the sandbox's own tests. The shared fixtures come from sandbox.pytest_plugin
(imported here so these tests also run alone with `-p no:django`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
import requests

from sandbox.pytest_plugin import SOFTWARE_SCOPES

if TYPE_CHECKING:
    from sandbox.pytest_plugin import Sandbox, Tokens


@pytest.fixture(autouse=True)
def _forget_shared_rate_limit_state():
    """Overrides the root conftest's autouse fixture, which needs Django's `settings`: the
    sandbox's tests touch neither Django nor Redis and run with `-p no:django`."""
    yield


def pytest_configure(config: pytest.Config) -> None:
    # Idempotent: a no-op when the root conftest already lists the plugin.
    config.pluginmanager.import_plugin("sandbox.pytest_plugin")


@dataclass
class Connected:
    """A 3LO connection of the admin to `acme`: a bearer session and the site's API base."""

    sandbox: Sandbox
    tokens: Tokens
    http: requests.Session
    base: str  # .../ex/jira/{cloudid}/rest/api/3

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(f"{self.base}/{path}", timeout=10, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.http.post(f"{self.base}/{path}", timeout=10, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.http.put(f"{self.base}/{path}", timeout=10, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.http.delete(f"{self.base}/{path}", timeout=10, **kwargs)

    @property
    def agile(self) -> str:
        """.../ex/jira/{cloudid}/rest/agile/1.0"""
        return self.base.rsplit("/rest/api/3", 1)[0] + "/rest/agile/1.0"

    def agile_get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(f"{self.agile}/{path}", timeout=10, **kwargs)

    def agile_post(self, path: str, **kwargs) -> requests.Response:
        return self.http.post(f"{self.agile}/{path}", timeout=10, **kwargs)

    def agile_put(self, path: str, **kwargs) -> requests.Response:
        return self.http.put(f"{self.agile}/{path}", timeout=10, **kwargs)


@pytest.fixture
def connected(sandbox: Sandbox) -> Connected:
    tokens = sandbox.connect(sites=["acme"])
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {tokens.access_token}"
    return Connected(sandbox, tokens, http, f"{sandbox.jira_url('acme')}/rest/api/3")


@pytest.fixture
def full(sandbox: Sandbox) -> Connected:
    """Like `connected`, on a world generated with every feature (workflows, hierarchy, agile,
    media), with the Jira Software scopes granted too."""
    sandbox.state.reset(seed="test", projects=2, issues=20, features="all")
    tokens = sandbox.connect(sites=["acme"], scope=f"{sandbox.scopes} {SOFTWARE_SCOPES}")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {tokens.access_token}"
    return Connected(sandbox, tokens, http, f"{sandbox.jira_url('acme')}/rest/api/3")


@pytest.fixture
def basic(sandbox: Sandbox) -> requests.Session:
    """A legacy Basic-auth session of the admin (email:API token)."""
    http = requests.Session()
    http.auth = (sandbox.admin.email, sandbox.demo_api_token)
    return http
