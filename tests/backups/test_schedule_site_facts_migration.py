"""The migration that gives the schedules their copy of the site's pool and status fills it for
the schedules that already exist."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from backups.models import BackupSchedule

BEFORE = [("backups", "0006_schedule_estimates")]
AFTER = [("backups", "0007_schedule_site_facts")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_migration_copies_each_sites_pool_and_status_onto_its_schedule():
    apps = migrate(BEFORE)
    try:
        tenant = apps.get_model("tenants", "Tenant").objects.create(name="Acme", slug="acme")
        grant = apps.get_model("tenants", "OAuthGrant").objects.create(account_id="acct-1")
        Site = apps.get_model("tenants", "JiraSite")
        on_grant = Site.objects.create(
            tenant=tenant, cloud_id="c-grant", url="https://a.atlassian.net", grant=grant
        )
        legacy = Site.objects.create(
            tenant=tenant, cloud_id="c-legacy", url="https://b.atlassian.net", status="disconnected"
        )
        Schedule = apps.get_model("backups", "BackupSchedule")
        for site in (on_grant, legacy):
            Schedule.objects.create(site=site)

        migrate(AFTER)

        copies = dict(
            BackupSchedule.objects.values_list("site__cloud_id", "pool").order_by("site_id")
        )
        assert copies == {"c-grant": "global", "c-legacy": "api-token:c-legacy"}
        statuses = set(BackupSchedule.objects.values_list("site__cloud_id", "site_status"))
        assert statuses == {("c-grant", "active"), ("c-legacy", "disconnected")}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
