"""Tier 2 pools: set by staff from the plan and user count, or learned from Atlassian's headers;
every site's schedule, fairness and client follow its pool."""

from __future__ import annotations

import pytest

from atlassian.models import PoolQuota
from atlassian.pools import grant_pool, parse_policy, policy_of, pool_limit, tier2_quota
from atlassian.ratelimit import GLOBAL_POOL, tenant_pool
from backups.models import BackupSchedule
from backups.services import schedule_create
from tenants.access import jira_client_for_site
from tenants.exceptions import DomainError
from tenants.models import AuditEvent
from tenants.services import site_set_pool
from tests.factories import UserFactory


@pytest.mark.parametrize(
    ("plan", "users", "quota"),
    [
        ("free", 5000, 65_000),
        ("standard", 300, 103_000),
        ("premium", 1000, 150_000),
        ("enterprise", 2000, 210_000),
        ("enterprise", 20_000, 500_000),  # capped
    ],
)
def test_atlassians_formula(plan, users, quota):
    assert tier2_quota(plan, users) == quota


def test_policy_headers_are_read_enforced_first():
    assert parse_policy('"tenant-app-quota";q=150000;w=3600') == {"tenant-app-quota": 150000}
    assert parse_policy('"global-app-quota";q=65000;w=3600, "x";q=5') == {
        "global-app-quota": 65000,
        "x": 5,
    }
    assert policy_of({"Beta-RateLimit-Policy": '"tenant-app-quota";q=9;w=3600'}) == (
        "tenant-app-quota",
        9,
        False,
    )
    assert policy_of(
        {
            "RateLimit-Policy": '"global-app-quota";q=65000;w=3600',
            "Beta-RateLimit-Policy": '"tenant-app-quota";q=9;w=3600',
        }
    ) == ("global-app-quota", 65000, True)
    assert policy_of({}) is None


def test_staff_put_a_site_on_tier2_and_back(acme, settings):
    schedule = schedule_create(site=acme, acting_user=None)
    assert schedule.pool == GLOBAL_POOL
    staff = UserFactory(is_staff=True)

    assert site_set_pool(site=acme, plan="premium", users=500, acting_user=staff)

    row = PoolQuota.objects.get(cloud_id=acme.cloud_id)
    assert (row.points_per_hour, row.source) == (140_000, "admin")
    schedule.refresh_from_db()
    assert schedule.pool == tenant_pool(acme.cloud_id)
    assert pool_limit(schedule.pool) == 140_000
    assert grant_pool(acme.cloud_id) == schedule.pool
    event = AuditEvent.objects.filter(action="site.pool_changed").get()
    assert event.actor_id == staff.pk
    assert event.summary["after"] == {"plan": "premium", "users": 500, "points_per_hour": 140000}
    # Same values again: nothing changes, nothing audited.
    assert not site_set_pool(site=acme, plan="premium", users=500, acting_user=staff)
    # Bad input: a clear message, nothing changed.
    with pytest.raises(DomainError, match="unknown plan"):
        site_set_pool(site=acme, plan="platinum", users=5, acting_user=staff)
    assert PoolQuota.objects.get(cloud_id=acme.cloud_id).points_per_hour == 140_000

    assert site_set_pool(site=acme, plan="", acting_user=staff)
    schedule.refresh_from_db()
    assert schedule.pool == GLOBAL_POOL
    assert not PoolQuota.objects.exists()
    assert AuditEvent.objects.filter(action="site.pool_changed").count() == 2


def test_the_client_learns_the_tier_from_atlassians_headers(acme, backup_env):
    sandbox = backup_env
    schedule = schedule_create(site=acme, acting_user=None)
    sandbox.enable_tier2("acme", 123_000)

    with jira_client_for_site(acme) as client:
        assert client.pool == GLOBAL_POOL
        client.myself()
        assert client.pool == tenant_pool(acme.cloud_id)

    row = PoolQuota.objects.get(cloud_id=acme.cloud_id)
    assert (row.points_per_hour, row.source) == (123_000, "header")
    schedule.refresh_from_db()
    assert schedule.pool == tenant_pool(acme.cloud_id)
    learned = AuditEvent.objects.get(action="site.pool_learned")
    assert learned.actor_id is None
    assert learned.summary["policy"] == "tenant-app-quota;q=123000"

    # Atlassian enforces the global pool again: the site is back on Tier 1.
    sandbox.disable_tier2("acme")
    with jira_client_for_site(acme) as client:
        assert client.pool == tenant_pool(acme.cloud_id)
        client.myself()
        assert client.pool == GLOBAL_POOL
    assert not PoolQuota.objects.exists()
    schedule.refresh_from_db()
    assert schedule.pool == GLOBAL_POOL


def test_an_announced_tier2_pool_is_learned_from_the_beta_header(acme, backup_env):
    sandbox = backup_env
    sandbox.limiter.quota_enforced = False
    sandbox.enable_tier2("acme", 170_000)

    with jira_client_for_site(acme) as client:
        client.myself()
        # Announced (Beta-), not enforced: a Beta "global" answer would not move it back.
        assert client.pool == tenant_pool(acme.cloud_id)

    row = PoolQuota.objects.get(cloud_id=acme.cloud_id)
    assert (row.points_per_hour, row.source) == (170_000, "beta_header")
    assert BackupSchedule.objects.count() == 0  # no schedule: nothing else to follow
