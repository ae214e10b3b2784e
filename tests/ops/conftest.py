"""Staff personas for the operations console: one per role (groups made by the data
migration), a superuser (break-glass) and a staff member with no role. Every persona has
TOTP and used it in the session: staff reach the admin only with MFA."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from tests.backups.conftest import backup_env  # noqa: F401 (a fixture)
from tests.conftest import mfa_client
from tests.factories import UserFactory

ROLES = ("Support", "Operator", "Security admin")


def staff_with_role(role: str | None, *, superuser: bool = False):
    name = (role or ("superuser" if superuser else "norole")).lower().replace(" ", "-")
    user = UserFactory(username=f"staff-{name}", staff=True, is_superuser=superuser)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def as_role(db):
    """``as_role("Support")`` → a signed-in client; ``as_role(None)`` a staff member with no
    role; ``as_role("superuser")`` the break-glass superuser."""

    def make(role: str | None) -> Client:
        if role == "superuser":
            return mfa_client(staff_with_role(None, superuser=True))
        return mfa_client(staff_with_role(role))

    return make


@pytest.fixture
def superuser_client(as_role):
    return as_role("superuser")


@pytest.fixture
def ops_sandbox(sandbox, settings):
    """The sandbox standing in for auth.atlassian.com and api.atlassian.com."""
    settings.ATLASSIAN_AUTH_URL = sandbox.url
    settings.ATLASSIAN_API_URL = sandbox.url
    settings.ATLASSIAN_CLIENT_ID = sandbox.client_id
    settings.ATLASSIAN_CLIENT_SECRET = sandbox.client_secret
    return sandbox


@pytest.fixture
def connected(ops_sandbox, db):
    """``connected(tenant, sites=("acme",))``: a grant stored with real sandbox tokens (as
    the connect flow leaves it) and the tenant's sites using it. Returns (grant, sites)."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import (
        GrantSiteFactory,
        JiraSiteFactory,
        OAuthGrantFactory,
        TenantFactory,
    )

    def make(tenant=None, sites=("acme",)):
        tokens = ops_sandbox.connect(sites=list(sites))
        tenant = tenant or TenantFactory()
        grant = OAuthGrantFactory(
            account_id=ops_sandbox.admin.account_id,
            account_email=ops_sandbox.admin.email,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            access_token_expires_at=timezone.now() + timedelta(hours=1),
            last_rotated_at=timezone.now(),
        )
        made = []
        for name in sites:
            remote = ops_sandbox.site(name)
            site = JiraSiteFactory(
                tenant=tenant, cloud_id=remote.cloud_id, url=remote.url, name=name
            )
            GrantSiteFactory(grant=grant, site=site, in_use=True)
            made.append(site)
        return grant, made

    return make


@pytest.fixture
def campaign_cases(db):
    """Three tenants, each with an owner and one legacy site whose case is pending."""
    from tests.factories import MembershipFactory, MigrationCaseFactory

    cases = []
    for n in range(3):
        case = MigrationCaseFactory()
        MembershipFactory(tenant=case.site.tenant, user__email=f"owner{n}@customer.example.com")
        cases.append(case)
    return cases


@pytest.fixture(autouse=True)
def fresh_dashboard(settings):
    """Tests see the dashboard computed on every request (no 60-second cache)."""
    settings.OPS_DASHBOARD_CACHE_SECONDS = 0
