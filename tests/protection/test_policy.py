"""Every connected site is protected: a consent through the connect flow, a migration through
the wizard, an import and the data migration all leave the site with a schedule from its
tenant's policy, and beat backs it up; a migrated site's first backup through the vendor grant
continues its legacy chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from backups.models import BackupJob, BackupSchedule, SiteProtection, Snapshot
from backups.protection.policy import (
    PolicyRefused,
    first_run_at,
    policy_for,
    protection_apply,
    protection_policy_set,
    vendor_default,
)
from backups.services import schedules_enqueue_due
from tenants.models import AuditEvent, JiraSite
from tests.backups.conftest import run_to_end, snapshot_reader
from tests.connect.conftest import follow_authorize, start_flow
from tests.protection.conftest import client_of, sweep
from tests.wizard.conftest import authorize, legacy_world, wizard_url

pytestmark = pytest.mark.django_db


def _in_window(moment: datetime, start: int, end: int) -> bool:
    minute = moment.hour * 60 + moment.minute
    return start <= minute < end if start < end else minute >= start or minute < end


def _connect_through_the_flow(sandbox, customer) -> JiraSite:
    sandbox.consent_as(sandbox.admin, sites=["acme"])
    owner = client_of(customer.owner)
    response = owner.get(follow_authorize(start_flow(owner, customer.tenant.slug)))
    assert response.status_code == 200, response.content
    return JiraSite.objects.get(cloud_id=sandbox.site("acme").cloud_id)


def test_a_site_connected_through_the_3lo_flow_gets_the_default_policy_and_beat_backs_it_up(
    backup_env, portal_sandbox, customer
):
    site = _connect_through_the_flow(portal_sandbox, customer)

    schedule = BackupSchedule.objects.get(site=site)
    default = vendor_default()
    assert schedule.enabled and schedule.interval_hours == default.interval_hours == 24
    assert (schedule.keep_last, schedule.keep_daily, schedule.keep_weekly) == (7, 14, 8)
    assert schedule.pool == "global" and schedule.site_status == "active"
    assert timezone.now() < schedule.next_run_at <= timezone.now() + timedelta(days=1)
    assert _in_window(schedule.next_run_at, default.window_start_minute, default.window_end_minute)
    event = AuditEvent.objects.get(action="backup.protection_applied")
    assert event.summary["reason"] == "connected" and event.tenant == customer.tenant
    # Protected (not yet overdue) while its first window has not come.
    assert SiteProtection.objects.get(site=site).state == "protected"

    # Beat, when the window comes: the due schedule is enqueued and the backup runs.
    created = schedules_enqueue_due(now=schedule.next_run_at)
    assert len(created) == 1
    job = run_to_end(BackupJob.objects.get(pk=created[0]))
    assert job.status == BackupJob.Status.SUCCEEDED, job.status_reason
    assert job.kind == BackupJob.Kind.FULL
    sweep()
    row = SiteProtection.objects.get(site=site)
    assert (row.state, row.last_outcome) == ("protected", "succeeded")
    assert BackupSchedule.objects.get(site=site).last_success_at is not None


def test_a_tenants_override_wins_over_the_vendor_default(backup_env, portal_sandbox, customer):
    protection_policy_set(
        tenant=customer.tenant,
        acting_user=customer.owner,
        interval_hours=6,
        window="22:00-23:00",
        keep_last=3,
        notify_emails=["Oncall@Acme.test"],
    )

    site = _connect_through_the_flow(portal_sandbox, customer)

    schedule = BackupSchedule.objects.get(site=site)
    assert (schedule.interval_hours, schedule.keep_last, schedule.keep_daily) == (6, 3, 14)
    assert schedule.next_run_at.hour == 22
    assert policy_for(customer.tenant).notify_emails == ("oncall@acme.test",)
    assert AuditEvent.objects.filter(action="backup.protection_policy_changed").count() == 1


def test_a_bad_policy_value_is_refused_and_changes_nothing(customer):
    for bad in ({"interval_hours": 0}, {"window": "25:00-26:00"}, {"notify_emails": ["nope"]}):
        with pytest.raises(PolicyRefused):
            protection_policy_set(tenant=customer.tenant, acting_user=None, **bad)
    assert not AuditEvent.objects.filter(action="backup.protection_policy_changed").exists()


def test_the_first_run_falls_in_the_window_spread_by_site_and_within_a_day():
    policy = vendor_default()
    now = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
    runs = {first_run_at(policy, site_key=f"cloud-{i}", now=now) for i in range(1, 50)}
    assert len(runs) > 20  # spread over the window
    for run in runs:
        assert now < run <= now + timedelta(days=1)
        assert _in_window(run, policy.window_start_minute, policy.window_end_minute)
    # The same site lands on the same minute, whatever its row.
    assert first_run_at(policy, site_key="cloud-7", now=now) == first_run_at(
        policy, site_key="cloud-7", now=now
    )


def test_a_migrated_site_keeps_its_schedule_and_its_next_backup_continues_the_legacy_chain(
    wizard_sandbox, django_capture_on_commit_callbacks
):
    world = legacy_world(wizard_sandbox)
    protection_apply(site_ids=[world.site.pk], reason="imported")
    schedule = BackupSchedule.objects.get(site=world.site)
    # Backed up through the legacy API token, on schedule.
    legacy_job = run_to_end(
        BackupJob.objects.get(pk=schedules_enqueue_due(now=schedule.next_run_at)[0])
    )
    assert legacy_job.status == BackupJob.Status.SUCCEEDED, legacy_job.status_reason
    legacy_snapshot = Snapshot.objects.get(job=legacy_job)
    schedule.refresh_from_db()
    next_run = schedule.next_run_at
    owner = client_of(world.owner)

    authorize(owner, world, wizard_sandbox)
    # What the wizard says is what happens next.
    page = owner.get(wizard_url(world, "cutover"))
    assert b"continues from your last backup" in page.content
    response = owner.post(wizard_url(world, "cutover/run"))
    assert response["Location"] == wizard_url(world, "remove")

    # Same schedule, same history: nothing was reset by the cut-over.
    after = BackupSchedule.objects.get(site=world.site)
    assert (after.pk, after.next_run_at, after.pool) == (schedule.pk, next_run, "global")
    assert AuditEvent.objects.filter(action="backup.protection_applied").count() == 1
    wizard_sandbox.state.request_log.clear()
    created = schedules_enqueue_due(now=next_run)
    job = run_to_end(BackupJob.objects.get(pk=created[0]))

    assert job.status == BackupJob.Status.SUCCEEDED, job.status_reason
    assert job.kind == BackupJob.Kind.INCREMENTAL
    assert job.base_snapshot_id == legacy_snapshot.pk
    assert snapshot_reader(job).manifest.base_snapshot_id == str(legacy_snapshot.pk)
    calls = wizard_sandbox.requests_where(site=wizard_sandbox.site("acme"))
    assert calls and {r.credential for r in calls} == {"bearer"}


def test_imported_legacy_sites_get_the_policy(settings, tmp_path, db):
    from tenants.importer import import_legacy_file

    settings.LEGACY_CUTOFF = datetime(2099, 1, 1, tzinfo=UTC)
    book = tmp_path / "book.json"
    book.write_text(
        '[{"tenant": "globex", "tenant_name": "Globex", "contact_emails": "it@globex.test",'
        ' "site_url": "https://globex.atlassian.net", "cloud_id": "22222222-2222-4222-8222-222222222222",'
        ' "kind": "api_token", "email": "admin@globex.test", "api_token": "tok-1"}]'
    )

    report = import_legacy_file(book)

    assert report.sites_created == 1, report.summary()
    schedule = BackupSchedule.objects.get(site__cloud_id="22222222-2222-4222-8222-222222222222")
    assert schedule.pool == "api-token:22222222-2222-4222-8222-222222222222" and schedule.enabled
    event = AuditEvent.objects.get(action="backup.protection_applied")
    assert event.summary["reason"] == "imported"


BEFORE = [("backups", "0011_protection")]
AFTER = [("backups", "0012_protect_existing_sites")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_gives_every_live_site_without_a_schedule_the_default():
    apps = _migrate(BEFORE)
    try:
        tenant = apps.get_model("tenants", "Tenant").objects.create(name="Acme", slug="acme")
        grant = apps.get_model("tenants", "OAuthGrant").objects.create(account_id="acct-1")
        Site = apps.get_model("tenants", "JiraSite")
        bare = Site.objects.create(tenant=tenant, cloud_id="c-1", url="https://a.net", grant=grant)
        kept = Site.objects.create(tenant=tenant, cloud_id="c-2", url="https://b.net", grant=grant)
        apps.get_model("backups", "BackupSchedule").objects.create(site=kept, interval_hours=6)
        Site.objects.create(tenant=tenant, cloud_id="c-3", url="https://c.net", status="offboarded")

        _migrate(AFTER)

        schedules = dict(BackupSchedule.objects.values_list("site__cloud_id", "interval_hours"))
        assert schedules == {"c-1": 24, "c-2": 6}
        given = BackupSchedule.objects.get(site_id=bare.pk)
        assert given.pool == "global" and given.next_run_at > timezone.now()
        assert SiteProtection.objects.get(site_id=bare.pk).first_due_at > given.next_run_at
        assert AuditEvent.objects.filter(action="backup.protection_applied").count() == 1
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
