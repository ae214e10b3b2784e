"""Schedules enqueue due sites; retention prunes snapshots and only unreferenced objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from backups.models import BackupJob, BackupSchedule, Snapshot, StoredAttachment
from backups.retention import prune_site, snapshots_to_keep
from backups.services import schedules_enqueue_due
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from backups.snapshots.verify import verify_snapshot
from tests.backups.conftest import backup


def test_pruning_keeps_the_newest_snapshots_and_exactly_the_objects_they_reference(
    acme, backup_env
):
    BackupSchedule.objects.create(
        site=acme, keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0
    )
    old = backup(acme)
    backup_env.mutate(fraction=0.3, delete=2, site="acme", seed=2)
    new = backup(acme)

    report = prune_site(site=acme)

    assert report.pruned_snapshots == [str(old.snapshot_id)]
    assert Snapshot.objects.get(pk=old.snapshot_id).status == Snapshot.Status.PRUNED
    kept = SnapshotReader.open(acme.cloud_id, str(new.snapshot_id))
    store = ObjectStore(acme.cloud_id)
    assert set(store.list_all()) == {store.name(sha) for sha, _size in kept.stored_objects()}
    assert report.deleted_objects  # the old snapshot's own shards and deleted issues' files
    assert verify_snapshot(acme.cloud_id, str(new.snapshot_id), deep=True) == []
    assert not StoredAttachment.objects.filter(
        site=acme, sha256__in=report.deleted_objects
    ).exists()


def test_pruning_keeps_the_base_chain_of_a_kept_incremental(acme, backup_env):
    BackupSchedule.objects.create(
        site=acme, keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0
    )
    full = backup(acme)
    backup_env.mutate(fraction=0.2, site="acme", seed=3)
    incremental = backup(acme, BackupJob.Kind.INCREMENTAL)
    assert incremental.kind == BackupJob.Kind.INCREMENTAL

    report = prune_site(site=acme)

    assert report.pruned_snapshots == []
    assert Snapshot.objects.get(pk=full.snapshot_id).status == Snapshot.Status.COMPLETE
    assert verify_snapshot(acme.cloud_id, str(incremental.snapshot_id), deep=True) == []


def test_retention_keeps_one_per_day_week_and_month_and_drops_what_is_too_old(db):
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    snaps = [
        Snapshot(completed_at=now - timedelta(hours=h), id=f"00000000-0000-0000-0000-{h:012d}")
        for h in (1, 2, 30, 24 * 10, 24 * 40, 24 * 400)
    ]
    policy = BackupSchedule(
        keep_last=1, keep_daily=2, keep_weekly=0, keep_monthly=3, max_age_days=365
    )
    keep = {str(s) for s in snapshots_to_keep(snaps, policy, now)}
    ids = [str(s.id) for s in snaps]
    # newest; newest of the 2 newest days; newest of the 3 newest months; not the 400-day-old one
    assert ids[0] in keep and ids[2] in keep
    assert ids[1] not in keep
    assert ids[4] in keep
    assert ids[5] not in keep


def test_the_beat_enqueues_due_schedules_once_and_moves_their_next_run(acme):
    due = BackupSchedule.objects.create(site=acme, interval_hours=6)
    created = schedules_enqueue_due()
    assert len(created) == 1
    job = BackupJob.objects.get(pk=created[0])
    assert job.kind == BackupJob.Kind.FULL  # no full snapshot yet
    due.refresh_from_db()
    assert due.next_run_at > timezone.now() + timedelta(hours=5)
    assert schedules_enqueue_due() == []
