"""What beat does: prune each site once a day reading only the manifests that changed, verify a
bounded sample daily (a failure opens an incident), write a grant's "last used" at most hourly,
send the migration reminders on their cadence, and the weekly report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from backups.models import BackupJob, BackupSchedule, Incident, Snapshot, StoredObjectRef
from backups.protection.report import weekly_reports_send
from backups.protection.routine import grants_last_used_write, migration_reminders_send_due
from backups.protection.verify_sampling import verify_sample
from backups.retention import prune_all, prune_site
from backups.snapshots.objects import ObjectStore
from backups.snapshots.verify import verify_snapshot
from tenants.models import MigrationNotice, OAuthGrant
from tests.backups.conftest import backup, snapshot_reader
from tests.factories import MigrationCaseFactory
from tests.protection.conftest import protected_site

pytestmark = pytest.mark.django_db


def _keep_one(site) -> None:
    BackupSchedule.objects.filter(site=site).update(
        keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0
    )
    site.refresh_from_db()


def test_a_prune_reads_only_the_manifests_that_changed_since_the_last(backup_env, customer):
    site = protected_site(backup_env, customer)
    _keep_one(site)
    first = backup(site)
    backup_env.mutate(fraction=0.2, site="acme", seed=2)
    second = backup(site)

    report = prune_site(site=site)  # the first prune counts every manifest, and lists storage
    assert report.listed_storage and report.pruned_snapshots == [str(first.snapshot_id)]
    assert report.manifests_read == 3  # two counted, the pruned one read to count it down
    store = ObjectStore(site.cloud_id)
    kept = {store.name(sha) for sha, _ in snapshot_reader(second).stored_objects()}
    assert set(store.list_all()) == kept

    nothing = prune_site(site=site)  # nothing changed: no manifest read, no listing
    assert (nothing.manifests_read, nothing.listed_storage) == (0, False)
    assert nothing.deleted_objects == [] and nothing.pruned_snapshots == []

    backup_env.mutate(fraction=0.2, site="acme", seed=3)
    third = backup(site, BackupJob.Kind.INCREMENTAL)
    changed = prune_site(site=site)
    # The new snapshot is counted; the second is not pruned: it is the incremental's base.
    assert (changed.manifests_read, changed.listed_storage) == (1, False)
    assert changed.pruned_snapshots == []
    for job in (second, third):
        assert verify_snapshot(site.cloud_id, str(job.snapshot_id), deep=True) == []
    counted = dict(StoredObjectRef.objects.filter(site=site).values_list("sha256", "refs"))
    third_objects = {sha for sha, _ in snapshot_reader(third).stored_objects()}
    assert all(counted[sha] >= 1 for sha in third_objects)


def test_pruning_never_deletes_what_a_kept_snapshot_or_a_running_job_needs(backup_env, customer):
    site = protected_site(backup_env, customer)
    _keep_one(site)
    backup(site)
    prune_site(site=site)
    backup_env.mutate(fraction=0.3, delete=2, site="acme", seed=4)
    newer = backup(site)
    running = BackupJob.objects.create(
        site=site, status="running", base_snapshot_id=newer.snapshot.pk
    )

    report = prune_site(site=site)

    assert report.pruned_snapshots  # the older one goes ...
    assert report.deleted_objects == []  # ... but nothing is deleted while a job runs
    assert report.skipped_gc_reason == "a backup job is active for the site"
    BackupJob.objects.filter(pk=running.pk).update(status="succeeded", finished_at=timezone.now())
    collected = prune_site(site=site, now=timezone.now() + timedelta(days=1))
    assert collected.deleted_objects
    assert verify_snapshot(site.cloud_id, str(newer.snapshot_id), deep=True) == []


def test_objects_of_a_job_that_failed_are_collected_by_the_next_prune(backup_env, customer):
    site = protected_site(backup_env, customer)
    backup(site)
    prune_site(site=site)
    orphan = ObjectStore(site.cloud_id).put_bytes(b"written by a job that never committed")
    BackupJob.objects.create(site=site, status="failed", finished_at=timezone.now())

    report = prune_site(site=site, now=timezone.now() + timedelta(seconds=1))

    assert (
        report.listed_storage
        and ObjectStore(site.cloud_id).name(orphan.sha256) in report.deleted_objects
    )


def test_beat_prunes_each_site_once_a_day(backup_env, customer):
    site = protected_site(backup_env, customer)
    backup(site)
    now = timezone.now()

    assert set(prune_all(now=now)) == {site.pk}
    assert prune_all(now=now + timedelta(hours=23)) == {}
    assert set(prune_all(now=now + timedelta(hours=25))) == {site.pk}


def test_daily_sampling_deep_verifies_a_bounded_sample_and_a_damaged_object_opens_an_incident(
    backup_env, customer
):
    site = protected_site(backup_env, customer)
    job = backup(site)
    snapshot = Snapshot.objects.get(job=job)

    clean = verify_sample(sample_objects=5)
    assert clean.snapshots == [str(snapshot.pk)] and clean.objects_deep_verified == 5
    assert clean.problems == {}

    # A flipped byte in every attachment: the size is right (a quick check passes), only the
    # deep check of a sampled object sees it.
    store = ObjectStore(site.cloud_id)
    attachments = {sha for sha, _ in snapshot_reader(job).attachment_refs()}
    for sha in attachments:
        path = store.storage.path(store.path(sha))
        data = bytearray(open(path, "rb").read())
        data[len(data) // 2] ^= 0xFF
        open(path, "wb").write(bytes(data))
    assert verify_snapshot(site.cloud_id, str(snapshot.pk)) == []  # quick: no problem
    everything = len(set(snapshot_reader(job).stored_objects()))
    damaged = verify_sample(sample_objects=everything)

    found = damaged.problems[str(snapshot.pk)]
    assert damaged.objects_deep_verified == everything
    # Sealed objects: the digest of their sealed bytes shows it, without opening them.
    assert len(found) == len(attachments) and all("do not match the digest" in p for p in found)
    incident = Incident.objects.get(site=site, kind="verification")
    assert incident.status == "open" and "do not match the digest" in incident.reason
    snapshot.refresh_from_db()
    assert snapshot.last_verify_problems


def test_every_sites_newest_snapshot_is_checked_within_a_week(backup_env, customer):
    sites = [protected_site(backup_env, customer, name) for name in ("acme", "globex")]
    for site in sites:
        backup(site)
    seen = set()
    for _day in range(2):  # ceil(2 sites / 7) = 1 a day
        seen.update(verify_sample(sample_objects=0).snapshots)
    assert seen == {str(s.pk) for s in Snapshot.objects.all()}


def test_a_grants_last_used_is_written_from_its_jobs_at_most_once_an_hour(backup_env, customer):
    site = protected_site(backup_env, customer)
    backup(site)
    grant = OAuthGrant.objects.get(pk=site.grant_id)
    assert grant.last_used_at is None
    now = timezone.now()

    assert grants_last_used_write(now=now) == 1
    grant.refresh_from_db()
    used = grant.last_used_at
    assert used is not None and now - used < timedelta(minutes=5)
    backup(site, BackupJob.Kind.INCREMENTAL)
    assert grants_last_used_write(now=timezone.now()) == 0  # within the hour: not written
    assert grants_last_used_write(now=timezone.now() + timedelta(minutes=70)) == 0  # idle


def test_beat_sends_the_migration_reminders_once_per_cadence_point(db, settings):
    settings.MIGRATION_REMINDER_DAYS = [7]
    case = MigrationCaseFactory(
        state="invited",
        due_at=timezone.now() + timedelta(days=3),
        site__tenant__contact_emails=["ops@acme.test"],
    )

    assert migration_reminders_send_due() == 1
    assert migration_reminders_send_due() == 0
    assert MigrationNotice.objects.filter(case=case, kind="reminder").count() == 1


def test_the_weekly_report_goes_to_tenants_who_asked_for_it(backup_env, customer, settings):
    from backups.protection.policy import protection_policy_set

    site = protected_site(backup_env, customer)
    backup(site)
    mail.outbox.clear()
    assert weekly_reports_send() == 0  # off by default

    protection_policy_set(tenant=customer.tenant, acting_user=None, weekly_report=True)
    assert weekly_reports_send() == 2  # owner and admin
    body = mail.outbox[0].body
    assert site.url in body and "snapshots: 1" in body and "(new over the week)" in body
    assert "<table" in mail.outbox[0].alternatives[0][0]
