"""The changelists and the dashboard run the same number of queries for 5 rows as for 50."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupJob, BackupSchedule, Snapshot
from backups.services import schedule_estimates_refresh
from tests.factories import (
    GrantSiteFactory,
    MembershipFactory,
    MigrationCaseFactory,
    OAuthGrantFactory,
)


def make_rows(n: int) -> None:
    """n of everything the pages list: tenants with sites, legacy cases, grants, jobs,
    snapshots, schedules."""
    now = timezone.now()
    for _ in range(n):
        case = MigrationCaseFactory()
        MembershipFactory(tenant=case.site.tenant)
        grant_site = GrantSiteFactory(site__tenant=case.site.tenant, in_use=True)
        OAuthGrantFactory(needs_reauth=True)
        site = grant_site.site
        BackupSchedule.objects.create(site=site)
        job = BackupJob.objects.create(site=site, status="failed", finished_at=now)
        Snapshot.objects.create(
            site=site,
            job=job,
            kind="full",
            format_version=1,
            manifest_path="m",
            manifest_sha256="0" * 64,
            started_at=now - timedelta(minutes=3),
            completed_at=now,
            points_spent=100,
        )
    # The backup service keeps the schedules' figures when a snapshot commits.
    schedule_estimates_refresh()


PAGES = [
    "admin:tenants_tenant_changelist",
    "admin:tenants_jirasite_changelist",
    "admin:tenants_oauthgrant_changelist",
    "admin:tenants_migrationcase_changelist",
    "admin:backups_backupjob_changelist",
    "admin:backups_snapshot_changelist",
    "admin:ops_operations_changelist",
]


def queries_for(client, url: str) -> int:
    client.get(url)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_the_page_runs_as_many_queries_for_50_rows_as_for_5(superuser_client, page):
    url = reverse(page)
    make_rows(5)
    few = queries_for(superuser_client, url)
    make_rows(45)
    many = queries_for(superuser_client, url)
    assert many == few, f"{page}: {few} queries for 5 rows, {many} for 50"


@pytest.mark.django_db
def test_the_tenant_page_runs_as_many_queries_for_50_rows_as_for_5(superuser_client):
    from tests.factories import TenantFactory

    tenant = TenantFactory()

    def add(n):
        for _ in range(n):
            case = MigrationCaseFactory(site__tenant=tenant)
            GrantSiteFactory(site__tenant=tenant, in_use=True)
            BackupJob.objects.create(site=case.site, status="failed")

    url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    add(5)
    few = queries_for(superuser_client, url)
    add(45)
    many = queries_for(superuser_client, url)
    assert many == few
