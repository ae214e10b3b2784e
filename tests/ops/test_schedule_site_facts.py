"""A backup schedule keeps a copy of its site's pool and status, so the quota planner and the
overdue count read the schedules alone. Every service that changes a site's credential or
status moves the copy in the same transaction, and the dashboard's figures stay equal to a
straightforward computation from the sites, the schedules and the snapshots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupSchedule
from backups.services import (
    schedule_create,
    schedule_estimates_refresh,
    schedules_follow_sites,
)
from ops import quota
from tenants.models import AuditEvent, JiraSite, MigrationCase
from tenants.services import (
    grant_mark_needs_reauth,
    grant_revoke,
    legacy_credential_purge,
    site_set_status,
    site_use_grant,
    site_use_legacy_credential,
    tenant_offboard,
)
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    LegacyCredentialFactory,
    MigrationCaseFactory,
    OAuthGrantFactory,
    TenantFactory,
)
from tests.ops.overdue import overdue_from_the_snapshots
from tests.ops.test_commands import run_failing
from tests.ops.test_dashboard import snapshot

LIVE = (JiraSite.Status.ACTIVE, JiraSite.Status.NEEDS_REAUTH)


def copy_of(site) -> tuple[str, str]:
    schedule = BackupSchedule.objects.get(site=site)
    return schedule.pool, schedule.site_status


def from_the_source_tables(now) -> dict:
    """The planner's figures the plain way: every enabled schedule with its site, filtered in
    Python on the site's own grant and status, the needs recomputed from the snapshots."""
    needs = {n.schedule_id: n.points_per_hour for n in quota.site_needs(now=now)}
    schedules = BackupSchedule.objects.filter(enabled=True).select_related("site")
    live = [s for s in schedules if s.site.status in LIVE]
    on_grant = [s for s in live if s.site.grant_id is not None]
    legacy = {f"api-token:{s.site.cloud_id}": needs[s.pk] for s in live if not s.site.grant_id}
    return {
        "global": (len(on_grant), sum(needs[s.pk] for s in on_grant)),
        "legacy": legacy,
        "overdue": len(overdue_from_the_snapshots(now)),
    }


def assert_figures_match_the_source_tables():
    now = timezone.now()
    plans, overdue = quota.plan_and_overdue(now=now, legacy_pools_listed=100)
    expected = from_the_source_tables(now)
    by_pool = {p.pool: p for p in plans}
    sites, need = expected["global"]
    if sites:
        assert (by_pool["global"].sites, by_pool["global"].need) == (sites, pytest.approx(need))
    else:
        assert "global" not in by_pool
    assert {p: plan.need for p, plan in by_pool.items() if p != "global"} == pytest.approx(
        expected["legacy"]
    )
    assert overdue == expected["overdue"]


@pytest.fixture
def estate(db):
    """Sites of every kind, each with an hourly schedule: two on the vendor grant and two on
    legacy credentials (one of each overdue; one legacy site's case verified, ready for the
    cut-over), and one legacy site never backed up."""
    grant = OAuthGrantFactory()
    tenant = TenantFactory()
    on_grant = [
        GrantSiteFactory(grant=grant, site__tenant=tenant, in_use=True).site for _ in range(2)
    ]
    case = MigrationCaseFactory(site__tenant=tenant, state=MigrationCase.State.VERIFIED)
    GrantSiteFactory(grant=grant, site=case.site)
    legacy = [case.site, JiraSiteFactory(legacy=True, tenant=tenant)]
    never = JiraSiteFactory(tenant=tenant, legacy=True)
    # Hourly schedules: a snapshot 5 hours old is overdue (2 intervals), one of now is not.
    for n, (site, age) in enumerate(zip([*on_grant, *legacy], (0, 5, 0, 5), strict=True)):
        schedule_create(site=site, acting_user=None, interval_hours=1)
        snapshot(site, points=100 * (n + 1), age=timedelta(hours=age))
    schedule_create(site=never, acting_user=None, interval_hours=1)
    return {"grant": grant, "tenant": tenant, "on_grant": on_grant, "legacy": legacy}


# ------------------------------------------------------------------------ the copy itself


@pytest.mark.django_db
def test_a_new_schedule_starts_with_its_sites_pool_status_and_estimate():
    on_grant = GrantSiteFactory(in_use=True).site
    legacy = JiraSiteFactory(legacy=True, needs_reauth=True)
    snapshot(on_grant, points=240)  # before the schedule exists

    schedule = schedule_create(site=on_grant, acting_user=None, interval_hours=24)

    assert (schedule.pool, schedule.site_status) == ("global", "active")
    assert schedule.points_per_hour_estimate == pytest.approx(10)
    assert schedule.last_success_at is not None
    schedule = schedule_create(site=legacy, acting_user=None)
    assert (schedule.pool, schedule.site_status) == (
        f"api-token:{legacy.cloud_id}",
        "needs_reauth",
    )
    assert AuditEvent.objects.filter(action="backup.schedule_created").count() == 2


def test_cutting_a_site_over_to_the_vendor_app_moves_its_schedule_to_the_global_pool(estate):
    site = estate["legacy"][0]
    assert copy_of(site)[0] == f"api-token:{site.cloud_id}"

    site_use_grant(site=site, grant=estate["grant"], acting_user=None)

    assert copy_of(site) == ("global", "active")
    assert MigrationCase.objects.get(site=site).state == MigrationCase.State.CUT_OVER
    assert_figures_match_the_source_tables()


@pytest.mark.parametrize("status", ["disconnected", "offboarded", "needs_reauth"])
def test_a_site_status_change_moves_its_schedules_copy(estate, status):
    site = estate["on_grant"][0]

    site_set_status(site=site, status=status, reason="seen by support", acting_user=None)

    assert copy_of(site) == ("global", status)
    assert_figures_match_the_source_tables()


def test_a_disconnected_site_leaves_the_plan_and_the_overdue_count(estate):
    site = estate["on_grant"][1]  # overdue
    before_plans, before_overdue = quota.plan_and_overdue()

    site_set_status(site=site, status="disconnected", reason="site deleted", acting_user=None)

    after_plans, after_overdue = quota.plan_and_overdue()
    assert after_plans[0].sites == before_plans[0].sites - 1
    assert after_overdue == before_overdue - 1
    assert_figures_match_the_source_tables()


def test_revoking_a_grant_marks_its_sites_schedules_needs_reauth(estate):
    grant_revoke(grant=estate["grant"], reason="customer uninstalled", acting_user=None)

    for site in estate["on_grant"]:
        assert copy_of(site) == ("global", "needs_reauth")
    # Still planned (they come back after re-authorization), no longer counted as overdue.
    assert_figures_match_the_source_tables()


def test_a_grant_needing_reauthorization_moves_its_sites_copies(estate):
    grant_mark_needs_reauth(grant=estate["grant"], reason="invalid_grant", acting_user=None)

    assert {copy_of(site)[1] for site in estate["on_grant"]} == {"needs_reauth"}
    assert_figures_match_the_source_tables()


def test_purging_a_legacy_credential_moves_its_sites_copy(estate):
    site = estate["legacy"][1]

    legacy_credential_purge(
        credential=site.legacy_credential, reason="past the cutoff", acting_user=None
    )

    assert copy_of(site) == (f"api-token:{site.cloud_id}", "needs_reauth")
    assert_figures_match_the_source_tables()


def test_linking_a_legacy_credential_keeps_the_site_in_its_own_pool(db):
    site = JiraSiteFactory()
    schedule_create(site=site, acting_user=None)
    credential = LegacyCredentialFactory(tenant=site.tenant, site_url=site.url)

    site_use_legacy_credential(site=site, credential=credential, acting_user=None)

    assert copy_of(site) == (f"api-token:{site.cloud_id}", "active")


def test_offboarding_the_tenant_takes_every_schedule_out_of_the_plan(estate):
    tenant_offboard(tenant=estate["tenant"], reason="contract ended", acting_user=None)

    assert set(BackupSchedule.objects.values_list("site_status", flat=True)) == {"offboarded"}
    plans, overdue = quota.plan_and_overdue()
    assert (plans, overdue) == ([], 0)
    assert_figures_match_the_source_tables()


@pytest.mark.django_db
def test_reconcile_sites_disconnects_a_lost_sites_schedule(connected, ops_sandbox):
    _grant, (acme, globex) = connected(sites=("acme", "globex"))
    for site in (acme, globex):
        schedule_create(site=site, acting_user=None)
    ops_sandbox.state.delete_site("globex")

    run_failing("reconcile_sites")

    assert copy_of(globex) == ("global", "disconnected")
    assert copy_of(acme) == ("global", "active")
    assert_figures_match_the_source_tables()


def test_the_daily_refresh_repairs_a_copy_written_around_the_services(estate):
    site = estate["on_grant"][0]
    # A raw write (a data fix in the shell, a bulk import) bypasses the services.
    JiraSite.objects.filter(pk=site.pk).update(grant=None, status="disconnected")
    assert copy_of(site) == ("global", "active")

    schedule_estimates_refresh()

    assert copy_of(site) == (f"api-token:{site.cloud_id}", "disconnected")
    assert_figures_match_the_source_tables()


def test_following_the_sites_writes_only_the_copies_that_differ(estate):
    assert schedules_follow_sites() == 0
    JiraSite.objects.filter(pk=estate["legacy"][1].pk).update(status="needs_reauth")
    assert schedules_follow_sites() == 1
    assert schedules_follow_sites() == 0


def test_the_dashboard_shows_the_figures_of_the_source_tables_after_every_change(
    estate, superuser_client
):
    site_use_grant(site=estate["legacy"][0], grant=estate["grant"], acting_user=None)
    site_set_status(
        site=estate["on_grant"][0], status="disconnected", reason="gone", acting_user=None
    )
    grant_revoke(grant=estate["grant"], reason="uninstalled", acting_user=None)

    context = superuser_client.get(reverse("admin:ops_operations_changelist")).context

    expected = from_the_source_tables(timezone.now())
    plans = {p.pool: p for p in context["plans"]}
    assert plans["global"].sites == expected["global"][0] == 2
    assert plans["global"].need == pytest.approx(expected["global"][1])
    assert context["backup_overdue"].count == expected["overdue"]
