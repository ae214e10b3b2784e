"""A restore from a compacted snapshot reads one base: the chain it was compacted from is pruned
and its objects deleted first, and the site still comes back whole (issue 21)."""

from __future__ import annotations

from backups.models import BackupJob, BackupSchedule, Snapshot
from backups.restore.models import RestoreJob
from backups.restore.normalize import differences, normalize_snapshot
from backups.retention import prune_site
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from tests.backups.conftest import backup, snapshot_reader
from tests.backups.test_compaction import chain, compact, reader_of
from tests.restore.conftest import restore


def test_a_restore_from_a_compacted_snapshot_reads_one_base(acme, site_b, backup_env):
    newest = chain(acme, backup_env, 4, seed="restore")
    compacted = Snapshot.objects.get(pk=compact(newest).snapshot_id)
    BackupSchedule.objects.create(
        site=acme, keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0
    )
    acme.refresh_from_db()
    report = prune_site(site=acme)

    # Only the compacted snapshot is left, and only the objects it names are stored.
    assert set(Snapshot.objects.filter(site=acme, status="complete")) == {compacted}
    assert len(report.pruned_snapshots) == 5
    reader = reader_of(compacted)
    assert {s.seq for s in reader.manifest.shards} == {0}
    store = ObjectStore(acme.cloud_id)
    assert set(store.list_all()) == {store.name(sha) for sha in dict(reader.stored_objects())}

    job = restore(compacted, site_b)
    assert job.status == RestoreJob.Status.SUCCEEDED, (job.status_reason, job.errors[:5])

    copy = backup(site_b)
    assert copy.status == BackupJob.Status.SUCCEEDED
    original = normalize_snapshot(SnapshotReader.open(acme.cloud_id, str(compacted.pk)))
    restored = normalize_snapshot(snapshot_reader(copy))
    assert differences(original, restored) == []
    assert original == restored
    assert job.counters["issues_created"] == len(original["issues"])
