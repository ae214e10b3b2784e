"""Fixtures for protection: a tenant with three personas (owner, admin, viewer), its site
connected to the sandbox over real HTTP through the vendor grant, and the policy applied as the
connect flow applies it (``tenants.signals.sites_changed``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from backups.protection.routine import protection_sweep
from tests.backups.conftest import backup_env, connect_site, fast_retries  # noqa: F401 - fixtures
from tests.connect.conftest import portal_sandbox  # noqa: F401 - fixture
from tests.factories import MembershipFactory, TenantFactory
from tests.wizard.conftest import wizard_sandbox  # noqa: F401 - fixture


@dataclass
class Customer:
    tenant: object
    owner: object
    admin: object
    viewer: object


@pytest.fixture
def customer(db) -> Customer:
    tenant = TenantFactory(slug="acme-corp", name="Acme Corp")
    owner = MembershipFactory(tenant=tenant, role="owner", user__email="owner@acme.test").user
    admin = MembershipFactory(tenant=tenant, role="admin", user__email="admin@acme.test").user
    viewer = MembershipFactory(tenant=tenant, role="viewer", user__email="viewer@acme.test").user
    return Customer(tenant, owner, admin, viewer)


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def protected_site(sandbox, customer: Customer, name: str = "acme"):
    """A sandbox site connected through the vendor grant, with the policy applied as a consent
    applies it (the connect flow's service announces the site; backups gives it a schedule)."""
    from backups.protection.policy import protection_apply
    from backups.protection.state import states_refresh

    site = connect_site(sandbox, name, tenant=customer.tenant)
    protection_apply(site_ids=[site.pk], reason="connected")
    states_refresh(site_ids=[site.pk])
    site.refresh_from_db()
    return site


def sweep(**kwargs) -> dict:
    return protection_sweep(**kwargs)
