"""Snapshot format 2 names attachments in refs shards; what format 1 left behind still works:
a job resumed across the upgrade, an incremental on a format-1 base, verification and pruning of
a format-1 snapshot."""

from __future__ import annotations

from backups.engine.runner import run_job
from backups.models import BackupJob, BackupSchedule, Checkpoint
from backups.retention import prune_site
from backups.services import backup_job_enqueue
from backups.snapshots import layout
from backups.snapshots.manifest import ATTACHMENT_REFS, AttachmentEntry, Manifest, write_manifest
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from backups.snapshots.shards import iter_lines
from backups.snapshots.verify import verify_snapshot
from tests.backups.conftest import backup, run_to_end, snapshot_reader


def _attachments_of_issues(reader: SnapshotReader) -> set[str]:
    return {a["sha256"] for r in reader.records("issues") for a in r["attachments"]}


def _as_format_1(reader: SnapshotReader) -> dict[str, int]:
    """Rewrite a committed snapshot's manifest as format 1 wrote it: attachments inline."""
    m = reader.manifest
    inline = dict(reader.attachment_refs())
    old = Manifest(
        snapshot_id=m.snapshot_id,
        site=m.site,
        kind=m.kind,
        started_at=m.started_at,
        finished_at=m.finished_at,
        changes_since=m.changes_since,
        base_snapshot_id=m.base_snapshot_id,
        shards=[s for s in m.shards if s.kind != ATTACHMENT_REFS],
        attachments=[AttachmentEntry(sha, size) for sha, size in sorted(inline.items())],
        record_counts=m.record_counts,
        totals=m.totals,
        format_version=1,
    )
    write_manifest(reader.objects.storage, old)
    return inline


def test_a_job_resumed_across_the_upgrade_keeps_the_attachments_its_old_checkpoints_list(acme):
    job, _ = backup_job_enqueue(site=acme, kind=BackupJob.Kind.FULL, acting_user=None)
    store = ObjectStore(acme.cloud_id)
    while not job.checkpoints.filter(key__startswith="issues:").exists():
        assert run_job(job.pk, slice_seconds=0).state == "requeue"
    # The pages done so far, as the code before format 2 recorded them: the attachment refs in
    # the checkpoint's result, no refs shard (which is deleted from storage too).
    legacy: set[str] = set()
    for cp in job.checkpoints.filter(key__startswith="issues:"):
        shards = cp.result["shards"]
        [refs] = [s for s in shards if s["kind"] == ATTACHMENT_REFS]
        with store.open(refs["sha256"]) as fh:
            cp.result["attachments"] = list(iter_lines(fh))
        cp.result["shards"] = [s for s in shards if s["kind"] != ATTACHMENT_REFS]
        Checkpoint.objects.filter(pk=cp.pk).update(result=cp.result)
        store.delete(refs["sha256"])
        legacy |= {a["sha256"] for a in cp.result["attachments"]}
    assert legacy

    job = run_to_end(job)

    assert job.status == BackupJob.Status.SUCCEEDED
    reader = snapshot_reader(job)
    named = {sha for sha, _size in reader.attachment_refs()}
    assert legacy <= named
    assert _attachments_of_issues(reader) == named
    assert verify_snapshot(acme.cloud_id, str(job.snapshot_id), deep=True) == []


def test_an_incremental_on_a_format_1_base_names_every_attachment_and_pruning_keeps_them(
    acme, backup_env
):
    BackupSchedule.objects.create(
        site=acme, keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0
    )
    full = backup(acme)
    inline = _as_format_1(snapshot_reader(full))
    base = snapshot_reader(full)
    assert base.manifest.format_version == 1 and base.manifest.attachments
    assert not base.manifest.shards_of(ATTACHMENT_REFS)
    assert verify_snapshot(acme.cloud_id, str(full.snapshot_id), deep=True) == []

    backup_env.mutate(fraction=0.2, site="acme", seed=5)
    incremental = backup(acme, BackupJob.Kind.INCREMENTAL)

    assert incremental.kind == BackupJob.Kind.INCREMENTAL
    reader = snapshot_reader(incremental)
    assert reader.manifest.format_version == layout.SEALED_VERSION
    named = {sha for sha, _size in reader.attachment_refs()}
    assert set(inline) <= named  # the base's inline list, carried into a refs shard
    assert _attachments_of_issues(reader) <= named
    report = prune_site(site=acme)
    assert report.pruned_snapshots == []  # the full is the incremental's base
    for snapshot in (full, incremental):
        assert verify_snapshot(acme.cloud_id, str(snapshot.snapshot_id), deep=True) == []
    store = ObjectStore(acme.cloud_id)
    stored = set(store.list_all())
    assert {store.name(s) for s in inline} <= stored and {store.name(s) for s in named} <= stored
