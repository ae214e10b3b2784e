"""Reliability row 13, cross-tenant access (matrix): a user of tenant A asks for tenant B's
connect page, teammates, wizard (every step and action), a pending choice of sites, and B's
sites, backup jobs and snapshots; the answer is 404 (or 403) every time and nothing of B's
shows. The same URLs work for B's owner, so the refusals are not a broken URL's 404.

Customers see B's sites only on B's pages; jobs and snapshots only in the staff admin, which
answers a customer 403 whatever the object.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from backups.models import Snapshot
from backups.services import backup_job_enqueue
from portal.models import OAuthState, PendingConnection
from tenants.models import MigrationCase
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    MembershipFactory,
    MigrationCaseFactory,
    TenantFactory,
)

pytestmark = pytest.mark.django_db

STEPS = ["why", "authorize", "verify", "cutover", "remove", "done"]


@pytest.fixture
def b(db):
    """Tenant B with an owner, a viewer, a legacy site in migration, a connected site with a
    backup job and a snapshot, and a pending choice of sites of its owner."""
    tenant = TenantFactory(slug="beta", name="Beta Industries")
    owner = MembershipFactory(tenant=tenant, role="owner").user
    viewer = MembershipFactory(tenant=tenant, role="viewer").user
    legacy = JiraSiteFactory(tenant=tenant, legacy=True, name="beta-legacy")
    case = MigrationCaseFactory(
        site=legacy, legacy_credential=legacy.legacy_credential, state=MigrationCase.State.INVITED
    )
    connected = GrantSiteFactory(site__tenant=tenant, site__name="beta-live", in_use=True).site
    job, _ = backup_job_enqueue(site=connected, acting_user=None)
    now = timezone.now()
    snapshot = Snapshot.objects.create(
        site=connected,
        kind="full",
        format_version=1,
        manifest_path="x",
        manifest_sha256="0" * 64,
        started_at=now - timedelta(minutes=5),
        completed_at=now,
    )
    state = OAuthState.objects.create(
        token_hash="b" * 64,
        user=owner,
        session_key_hash="c" * 64,
        tenant=tenant,
        expires_at=now + timedelta(minutes=10),
    )
    pending = PendingConnection(
        state=state,
        account_id="557058:beta",
        access_token_expires_at=now + timedelta(hours=1),
        expires_at=now + timedelta(minutes=10),
        resources=[{"id": "x", "name": "beta-next", "url": "https://beta-next.atlassian.net"}],
    )
    pending.access_token, pending.refresh_token = "beta-access", "beta-refresh"
    pending.save()
    return {
        "tenant": tenant,
        "owner": owner,
        "viewer": viewer,
        "case": case,
        "sites": [legacy, connected],
        "job": job,
        "snapshot": snapshot,
        "pending": pending,
    }


def tenant_pages(b) -> list[tuple[str, str]]:
    """(method, URL) of every customer page under B's slug."""
    slug, case = b["tenant"].slug, b["case"].pk
    wizard = f"/t/{slug}/migrate/{case}/"
    return [
        ("get", f"/t/{slug}/connect/"),
        ("post", f"/t/{slug}/connect/"),
        ("get", f"/t/{slug}/members/"),
        ("post", f"/t/{slug}/members/"),
        ("get", f"/t/{slug}/migrate/"),
        ("get", wizard),
        *[("get", f"{wizard}{step}/") for step in STEPS],
        ("post", f"{wizard}authorize/start/"),
        ("post", f"{wizard}cutover/run/"),
        ("post", f"{wizard}remove/confirm/"),
    ]


def staff_pages(b) -> list[str]:
    return [
        f"/admin/tenants/tenant/{b['tenant'].pk}/change/",
        *[f"/admin/tenants/jirasite/{site.pk}/change/" for site in b["sites"]],
        f"/admin/tenants/migrationcase/{b['case'].pk}/change/",
        f"/admin/backups/backupjob/{b['job'].pk}/change/",
        f"/admin/backups/snapshot/{b['snapshot'].pk}/change/",
    ]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_nothing_of_b(response, b) -> None:
    body = response.content.decode()
    assert b["tenant"].name not in body
    for site in b["sites"]:
        assert site.url not in body


@pytest.mark.parametrize("who", ["owner of A", "viewer of B"])
def test_reliability_row_13_every_page_of_tenant_b_refuses_a_user_who_does_not_manage_it(b, who):
    """Reliability row 13: the matrix, each persona against every page, job and snapshot of tenant B."""
    if who == "owner of A":
        user, expected = MembershipFactory(role="owner", tenant__slug="alpha").user, 404
    else:
        user, expected = b["viewer"], 403
    client = signed_in(user)
    states_before = OAuthState.objects.count()

    for method, url in tenant_pages(b):
        response = getattr(client, method)(url)
        assert response.status_code == expected, (method, url, response.status_code)
        if expected == 404:
            assert_nothing_of_b(response, b)

    # The choice of sites belongs to the session that started it.
    response = client.get(f"/connect/choose/{b['pending'].pk}/")
    assert response.status_code == 404
    assert b"beta-next" not in response.content
    # Jobs, snapshots, sites and the tenant itself: staff only.
    for url in staff_pages(b):
        response = client.get(url, follow=True)
        assert response.status_code == 403, url
        assert_nothing_of_b(response, b)
    # The home page lists A's tenants only (or B's as a viewer, without the manage links).
    home = client.get("/").content.decode()
    assert f"/t/{b['tenant'].slug}/connect/" not in home
    assert f"/t/{b['tenant'].slug}/migrate/" not in home
    # Nothing was started or changed on B's behalf.
    assert OAuthState.objects.count() == states_before
    assert MigrationCase.objects.get(pk=b["case"].pk).state == MigrationCase.State.INVITED


def test_reliability_row_13_a_case_of_tenant_b_is_not_found_under_tenant_as_slug(b):
    a_owner = MembershipFactory(role="owner", tenant__slug="alpha").user
    client = signed_in(a_owner)
    wizard = f"/t/alpha/migrate/{b['case'].pk}/"

    for method, url in [
        ("get", wizard),
        *[("get", f"{wizard}{step}/") for step in STEPS],
        ("post", f"{wizard}authorize/start/"),
        ("post", f"{wizard}cutover/run/"),
        ("post", f"{wizard}remove/confirm/"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 404, (method, url)
        assert_nothing_of_b(response, b)
    assert MigrationCase.objects.get(pk=b["case"].pk).state == MigrationCase.State.INVITED


def test_the_same_pages_open_for_tenant_bs_owner(b):
    client = signed_in(b["owner"])

    for method, url in tenant_pages(b):
        response = getattr(client, method)(url)
        assert response.status_code not in (403, 404), (method, url, response.status_code)
