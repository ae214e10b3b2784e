from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from atlassian.models import CallStat
from backups.models import BackupJob, Snapshot
from backups.services import schedule_create, schedule_estimates_refresh
from tenants.models import MigrationCase
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    MigrationCaseFactory,
    OAuthGrantFactory,
)

DASHBOARD = "admin:ops_operations_changelist"


def snapshot(site, *, points, kind="incremental", age=timedelta(hours=1)):
    """A committed snapshot, with the schedule's figures kept as the backup service keeps
    them when a job commits one."""
    done = timezone.now() - age
    with transaction.atomic():
        snap = Snapshot.objects.create(
            site=site,
            kind=kind,
            format_version=1,
            manifest_path="x",
            manifest_sha256="0" * 64,
            started_at=done - timedelta(minutes=5),
            completed_at=done,
            points_spent=points,
        )
        schedule_estimates_refresh(site_ids=[site.pk])
    return snap


@pytest.mark.django_db
def test_the_dashboard_counts_the_funnel_and_links_each_number_to_its_changelist(
    superuser_client,
):
    MigrationCaseFactory.create_batch(3)
    MigrationCaseFactory(failed=True)
    response = superuser_client.get(reverse(DASHBOARD))
    assert response.status_code == 200
    funnel = {f.label: f for f in response.context["funnel"]}
    assert funnel["Pending"].count == 3
    assert funnel["Failed"].count == 1
    assert funnel["Failed"].url.endswith("?purpose__exact=migration&state__exact=failed")
    listed = superuser_client.get(funnel["Failed"].url)
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 1


@pytest.mark.django_db
def test_the_dashboard_counts_grants_needing_reauthorization_and_failed_jobs(
    superuser_client,
):
    OAuthGrantFactory(needs_reauth=True)
    OAuthGrantFactory()
    site = JiraSiteFactory()
    BackupJob.objects.create(
        site=site, status="failed", status_reason="boom", finished_at=timezone.now()
    )
    BackupJob.objects.create(
        site=site,
        status="failed",
        status_reason="old",
        finished_at=timezone.now() - timedelta(days=3),
    )
    context = superuser_client.get(reverse(DASHBOARD)).context
    assert context["grants_reauth"].count == 1
    assert context["failed_jobs"].count == 1
    for key in ("grants_reauth", "failed_jobs", "past_due", "backup_overdue", "sites_reauth"):
        figure = context[key]
        listed = superuser_client.get(figure.url)
        assert listed.status_code == 200, key
        assert listed.context["cl"].result_count == figure.count, key


@pytest.mark.django_db
def test_backup_health_lists_sites_without_a_snapshot_inside_their_window(superuser_client):
    fresh, stale, never = JiraSiteFactory.create_batch(3)
    for site in (fresh, stale, never):
        schedule_create(site=site, acting_user=None, interval_hours=24)
    snapshot(fresh, points=10)
    snapshot(stale, points=10, age=timedelta(days=3))
    context = superuser_client.get(reverse(DASHBOARD)).context
    assert context["backup_overdue"].count == 2
    listed = superuser_client.get(context["backup_overdue"].url).context["cl"]
    assert {s.pk for s in listed.result_list} == {stale.pk, never.pk}


@pytest.mark.django_db
def test_legacy_sites_past_due_link_to_exactly_those_sites(superuser_client):
    MigrationCaseFactory(due_at=timezone.now() - timedelta(days=1))
    MigrationCaseFactory(exempt=True)
    context = superuser_client.get(reverse(DASHBOARD)).context
    listed = superuser_client.get(context["past_due"].url).context["cl"]
    assert context["past_due"].count == listed.result_count >= 1
    assert not any(
        case.state == MigrationCase.State.EXEMPT
        for site in listed.result_list
        for case in site.migration_cases.all()
    )


@pytest.mark.django_db
def test_points_per_hour_per_pool_come_from_the_call_ledger(superuser_client, settings):
    settings.ATLASSIAN_TIER1_POINTS_PER_HOUR = 1000
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    CallStat.objects.create(
        hour=hour,
        pool="global",
        credential_kind="vendor_grant",
        endpoint_family="search",
        status_class="2xx",
        requests=10,
        points=1500,
    )
    response = superuser_client.get(reverse(DASHBOARD))
    pools = response.context["pools"]
    assert pools[0]["pool"] == "global" and pools[0]["quota"] == 1000
    assert pools[0]["hours"][0]["points"] == 1500 and pools[0]["hours"][0]["over"]
    listed = superuser_client.get(pools[0]["hours"][0]["url"]).context["cl"]
    assert listed.result_count == 1


@pytest.mark.django_db
def test_the_quota_planner_warns_and_names_the_sites_to_move(superuser_client, settings):
    settings.ATLASSIAN_TIER1_POINTS_PER_HOUR = 1000
    big, small = [GrantSiteFactory(in_use=True).site for _ in range(2)]
    for site in (big, small):
        schedule_create(site=site, acting_user=None, interval_hours=1, full_every_days=30)
    snapshot(big, points=900)
    snapshot(small, points=100)
    response = superuser_client.get(reverse(DASHBOARD))
    plan = response.context["plans"][0]
    assert plan.pool == "global" and round(plan.need) == 1000 and not plan.fits
    assert [n.url for n in plan.to_move] == [big.url]
    assert b"does not fit" in response.content
    assert big.url.encode() in response.content


@pytest.mark.django_db
def test_the_quota_planner_is_quiet_when_the_schedules_fit(superuser_client, settings):
    settings.ATLASSIAN_TIER1_POINTS_PER_HOUR = 1000
    site = GrantSiteFactory(in_use=True).site
    schedule_create(site=site, acting_user=None, interval_hours=24)
    snapshot(site, points=240)
    response = superuser_client.get(reverse(DASHBOARD))
    plan = response.context["plans"][0]
    assert plan.fits and round(plan.need) == 10
    assert b"does not fit" not in response.content


@pytest.mark.django_db
def test_the_dashboard_draws_its_chart_without_external_scripts(superuser_client):
    MigrationCaseFactory()
    content = superuser_client.get(reverse(DASHBOARD)).content.decode()
    assert 'class="ops-bar"' in content
    assert "cdn" not in content.lower() and '<script src="http' not in content


@pytest.mark.django_db
def test_the_admin_index_links_to_the_dashboard(superuser_client):
    response = superuser_client.get(reverse("admin:index"))
    assert reverse(DASHBOARD).encode() in response.content


@pytest.mark.django_db
def test_the_dashboard_is_cached_for_a_minute_unless_refreshed(superuser_client, settings):
    from django.core.cache import cache

    settings.OPS_DASHBOARD_CACHE_SECONDS = 60
    cache.clear()
    superuser_client.get(reverse(DASHBOARD))
    OAuthGrantFactory(needs_reauth=True)
    assert superuser_client.get(reverse(DASHBOARD)).context["grants_reauth"].count == 0
    fresh = superuser_client.get(reverse(DASHBOARD), {"refresh": "1"})
    assert fresh.context["grants_reauth"].count == 1
    cache.clear()
