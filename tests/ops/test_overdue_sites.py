"""The sites changelist's "No successful backup in its window" filter lists exactly the sites
the dashboard's overdue figure counts, and both mean what "overdue" means: an active site with
an enabled schedule and no complete snapshot within two of its intervals (never backed up
included). Both read the schedule's stored ``overdue_at``, not the snapshots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupSchedule
from backups.services import schedule_create, schedule_update
from ops import quota
from ops.dashboard import backup_overdue_sites
from tenants.models import JiraSite
from tenants.services import site_set_status
from tests.factories import GrantSiteFactory, JiraSiteFactory
from tests.ops.overdue import overdue_from_the_snapshots
from tests.ops.test_dashboard import snapshot

OVERDUE = reverse("admin:tenants_jirasite_changelist") + "?ops=backup_overdue"


@pytest.fixture
def sites():
    """One site per case, on 6-hour and daily schedules (so 12 h and 48 h windows)."""
    made = {}
    for name, hours in (
        ("fresh", 6),
        ("stale", 6),
        ("never", 24),
        ("daily_fresh", 24),
        ("daily_stale", 24),
        ("disabled", 6),
        ("reauth_stale", 6),
        ("legacy_stale", 24),
    ):
        site = (
            JiraSiteFactory(legacy=True)
            if name == "legacy_stale"
            else GrantSiteFactory(in_use=True).site
        )
        schedule_create(site=site, acting_user=None, interval_hours=hours)
        made[name] = site
    snapshot(made["fresh"], points=1, age=timedelta(hours=11))
    snapshot(made["stale"], points=1, age=timedelta(hours=13))
    snapshot(made["daily_fresh"], points=1, age=timedelta(hours=30))
    snapshot(made["daily_stale"], points=1, age=timedelta(hours=49))
    snapshot(made["disabled"], points=1, age=timedelta(days=5))
    snapshot(made["reauth_stale"], points=1, age=timedelta(days=5))
    snapshot(made["legacy_stale"], points=1, age=timedelta(days=5))
    schedule_update(
        schedule=BackupSchedule.objects.get(site=made["disabled"]), acting_user=None, enabled=False
    )
    site_set_status(
        site=made["reauth_stale"],
        status=JiraSite.Status.NEEDS_REAUTH,
        reason="the grant needs re-authorization",
        acting_user=None,
    )
    return made


@pytest.mark.django_db
def test_the_filter_lists_exactly_the_overdue_sites_the_dashboard_counts(superuser_client, sites):
    now = timezone.now()
    expected = {sites[n].pk for n in ("stale", "never", "daily_stale", "legacy_stale")}
    assert overdue_from_the_snapshots(now) == expected

    listed = superuser_client.get(OVERDUE).context["cl"]
    _plans, counted = quota.plan_and_overdue(now=now)

    assert {s.pk for s in listed.result_list} == expected
    assert counted == listed.result_count == len(expected)
    assert set(backup_overdue_sites(now=now).values_list("pk", flat=True)) == expected


@pytest.mark.django_db
def test_a_site_becomes_overdue_the_moment_its_window_ends(sites):
    schedule = BackupSchedule.objects.get(site=sites["fresh"])
    moment = schedule.overdue_at
    assert schedule.overdue_at == schedule.last_success_at + timedelta(hours=12)

    assert sites["fresh"].pk not in set(
        backup_overdue_sites(now=moment).values_list("pk", flat=True)
    )
    later = moment + timedelta(microseconds=1)
    assert sites["fresh"].pk in set(backup_overdue_sites(now=later).values_list("pk", flat=True))
    assert quota.plan_and_overdue(now=later)[1] == backup_overdue_sites(now=later).count()


@pytest.mark.django_db
def test_the_filter_reads_the_schedules_not_the_snapshots(superuser_client, sites):
    with CaptureQueriesContext(connection) as ctx:
        superuser_client.get(OVERDUE)
    listing = [q["sql"] for q in ctx.captured_queries if "backups_backupschedule" in q["sql"]]
    assert listing
    assert not any("backups_snapshot" in sql for sql in listing)
    assert all("overdue_at" in sql for sql in listing)
