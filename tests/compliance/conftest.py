"""Fixtures for the compliance report: the portal on the sandbox (real HTTP) with one simulated
clock — the sandbox's — for the legacy cutoff check, the ledger's hours and the sandbox's own
request log, so "before" and "after" the cutoff can be driven in one test."""

from __future__ import annotations

import pytest

from atlassian.ledger import ledger
from atlassian.ratelimit import clear_shared_state
from tests.factories import JiraSiteFactory, LegacyCredentialFactory, TenantFactory

# The running sandbox's clock, for the client factory below (a dotted path in settings).
_CLOCK = {"now": None}


def client_on_sandbox_time(site):
    """The production factory (``tenants.access.jira_client_for_site``), with the legacy
    cutoff judged on the sandbox's clock instead of the wall clock."""
    from tenants.access import jira_client_for_site

    kwargs = {"now": _CLOCK["now"]} if _CLOCK["now"] is not None else {}
    return jira_client_for_site(site, **kwargs)


@pytest.fixture
def compliance_env(sandbox, settings, tmp_path, monkeypatch):
    """Settings pointing at the sandbox, storage in a fresh folder, no Redis, an empty ledger
    that counts hours on the sandbox's clock."""
    for name, value in sandbox.settings().items():
        setattr(settings, name, value)
    settings.REDIS_URL = ""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }
    settings.BACKUPS_CLIENT_FACTORY = "tests.compliance.conftest.client_on_sandbox_time"
    from django.core.files.storage import storages

    storages._storages.pop("default", None)
    clear_shared_state()
    ledger.discard()
    monkeypatch.setattr(ledger, "clock", sandbox.clock.time)
    _CLOCK["now"] = sandbox.clock.now
    sandbox.request_log.clear()
    yield sandbox
    _CLOCK["now"] = None
    ledger.discard()
    storages._storages.pop("default", None)


def legacy_site(sandbox, name: str = "globex", tenant=None):
    """A JiraSite of a not-yet-migrated tenant: Basic auth (the sandbox admin's API token)
    against the site's own URL."""
    remote = sandbox.site(name)
    tenant = tenant or TenantFactory(name=f"Legacy {name}")
    credential = LegacyCredentialFactory(
        tenant=tenant,
        email=sandbox.admin.email,
        api_token=sandbox.demo_api_token,
        site_url=f"{sandbox.url}/site/{name}",
    )
    return JiraSiteFactory(
        tenant=tenant,
        cloud_id=remote.cloud_id,
        name=name,
        url=f"{sandbox.url}/site/{name}",
        legacy_credential=credential,
    )
