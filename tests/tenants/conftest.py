from __future__ import annotations

import json

import pytest

from tenants.models import AuditEvent
from tests.conftest import mfa_client
from tests.factories import MembershipFactory, TenantFactory, UserFactory


@pytest.fixture
def tenant(db):
    return TenantFactory(name="Acme", slug="acme")


@pytest.fixture
def owner(tenant):
    return MembershipFactory(tenant=tenant, user__username="owner").user


@pytest.fixture
def teammate(tenant):
    return MembershipFactory(tenant=tenant, user__username="teammate", viewer=True).user


@pytest.fixture
def outsider(db):
    return MembershipFactory(user__username="outsider").user


@pytest.fixture
def staff(db):
    return UserFactory(username="support", staff=True)


@pytest.fixture
def audited():
    """``audited(action, actor=..., tenant=..., secrets=[...])`` returns the newest event for
    ``action`` after checking its actor, tenant, and that no secret is in any audit row."""

    def check(action, *, actor, tenant, secrets=()):
        event = AuditEvent.objects.filter(action=action).order_by("-pk").first()
        assert event is not None, f"no audit event {action!r}"
        assert event.actor == actor
        assert event.tenant == tenant
        everything = json.dumps(list(AuditEvent.objects.values()), default=str)
        for secret in secrets:
            assert secret not in everything
        return event

    return check


@pytest.fixture
def admin_client(client, db):
    """A client signed in as a superuser who set up TOTP and used it in this session (staff
    reach the admin only with MFA, see portal.middleware.StaffMFARequiredMiddleware)."""
    return mfa_client(UserFactory(username="admin", superuser=True), client)
