"""Fixtures for the migration wizard: the portal pointed at the sandbox over real HTTP, a
tenant with an owner, and a site still on a legacy API token the sandbox accepts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tenants.models import JiraSite, LegacyCredential, MigrationCase
from tests.connect.conftest import TEST_REDIRECT_URI, follow_authorize, with_scopes
from tests.factories import (
    JiraSiteFactory,
    LegacyCredentialFactory,
    MembershipFactory,
    MigrationCaseFactory,
    TenantFactory,
)

__all__ = ["TEST_REDIRECT_URI", "follow_authorize"]


@pytest.fixture
def wizard_sandbox(sandbox, settings, tmp_path):
    """Settings pointing at the sandbox (auth, API, our test callback), storage in a fresh
    folder, no Redis; the legacy cutoff in the future unless a test moves it."""
    app = sandbox.state.clients[sandbox.client_id]
    if TEST_REDIRECT_URI not in app.redirect_uris:
        app.redirect_uris.append(TEST_REDIRECT_URI)
    for name, value in sandbox.settings().items():
        setattr(settings, name, value)
    settings.ATLASSIAN_REDIRECT_URI = TEST_REDIRECT_URI
    settings.REDIS_URL = ""
    settings.LEGACY_CUTOFF = datetime(2099, 1, 1, tzinfo=UTC)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }
    from django.core.files.storage import storages

    storages._storages.pop("default", None)
    sandbox.state.request_log.clear()
    yield sandbox
    storages._storages.pop("default", None)


@dataclass
class LegacyWorld:
    tenant: object
    owner: object
    site: JiraSite
    credential: LegacyCredential
    case: MigrationCase


def legacy_world(sandbox, *, state=MigrationCase.State.INVITED, due_in_days=30) -> LegacyWorld:
    """Tenant ``acme-corp`` whose site ``acme`` (the sandbox's) is on the admin's API token."""
    remote = sandbox.site("acme")
    tenant = TenantFactory(slug="acme-corp", name="Acme Corp", contact_emails=["ops@acme.test"])
    owner = MembershipFactory(tenant=tenant, role="owner", user__email="owner@acme.test").user
    credential = LegacyCredentialFactory(
        tenant=tenant,
        site_url=remote.url,
        email=sandbox.admin.email,
        api_token=sandbox.state.demo_api_token,
    )
    site = JiraSiteFactory(
        tenant=tenant,
        cloud_id=remote.cloud_id,
        url=remote.url,
        name="acme",
        legacy_credential=credential,
    )
    case = MigrationCaseFactory(
        site=site,
        legacy_credential=credential,
        state=state,
        due_at=timezone.now() + timedelta(days=due_in_days),
    )
    return LegacyWorld(tenant, owner, site, credential, case)


@pytest.fixture
def world(wizard_sandbox, db) -> LegacyWorld:
    return legacy_world(wizard_sandbox)


@pytest.fixture
def owner_client(world) -> Client:
    client = Client()
    client.force_login(world.owner)
    return client


def wizard_url(world, step: str | None = None) -> str:
    base = f"/t/{world.tenant.slug}/migrate/{world.case.pk}/"
    return base + (f"{step}/" if step else "")


def authorize(
    client: Client,
    world,
    sandbox,
    *,
    as_user=None,
    sites=("acme",),
    decision="accept",
    scopes: str | None = None,
):
    """POST the wizard's authorize button, let the sandbox answer (scripted consent, with
    ``scopes`` instead of the requested ones if given) and deliver the callback; returns the
    callback's response."""
    sandbox.state.consent_as(as_user or sandbox.admin, list(sites), decision=decision)
    response = client.post(wizard_url(world, "authorize/start"))
    assert response.status_code == 302, response.content
    location = response["Location"]
    if scopes is not None:
        location = with_scopes(location, scopes)
    return client.get(follow_authorize(location))
