"""Compaction: an incremental chain rewritten as a synthetic full of the same moment, from storage
alone, so that restore and verify read one layer (issue 21)."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from backups import compaction
from backups.exceptions import BackupRefused
from backups.jobs import leases
from backups.models import BackupJob, CompactionJob, Snapshot, StoredObjectRef
from backups.restore.normalize import differences, normalize_snapshot
from backups.retention import prune_site
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from backups.snapshots.verify import verify_snapshot
from tenants.models import AuditEvent
from tests.backups.conftest import backup, comparable, connect_site, snapshot_reader


def compact(snapshot: Snapshot, *, slice_seconds: float = 3600) -> CompactionJob:
    job, created = compaction.compaction_enqueue(snapshot=snapshot, acting_user=None, enqueue=False)
    assert created
    return run_compaction_to_end(job, slice_seconds=slice_seconds)


def run_compaction_to_end(job: CompactionJob, *, slice_seconds: float = 3600) -> CompactionJob:
    for _ in range(200):
        compaction.run_compaction(job.pk, slice_seconds=slice_seconds)
        job.refresh_from_db()
        if job.status not in (CompactionJob.Status.QUEUED, CompactionJob.Status.RUNNING):
            return job
    raise AssertionError(f"compaction {job.pk} did not finish: {job.status}")


def reader_of(snapshot: Snapshot) -> SnapshotReader:
    return SnapshotReader.open(snapshot.site.cloud_id, str(snapshot.pk))


def chain(site, sandbox, incrementals: int, *, seed: str = "chain") -> Snapshot:
    """A full backup, then ``incrementals`` incremental ones, the site changing before each."""
    job = backup(site)
    assert job.status == BackupJob.Status.SUCCEEDED, job.status_reason
    for n in range(incrementals):
        sandbox.mutate(fraction=0.05, delete=1 if n % 5 == 0 else 0, site="acme", seed=f"{seed}{n}")
        job = backup(site, BackupJob.Kind.INCREMENTAL)
        assert job.status == BackupJob.Status.SUCCEEDED, job.status_reason
        assert job.kind == BackupJob.Kind.INCREMENTAL
    return job.snapshot


def test_a_chain_of_30_incrementals_compacted_equals_a_fresh_full_of_the_same_moment(
    acme, backup_env
):
    newest = chain(acme, backup_env, 30)
    assert newest.layers == 31
    source = reader_of(newest).manifest
    assert max(s.seq for s in source.shards_of("issues")) == 30
    backup_env.state.request_log.clear()

    job = compact(newest)

    assert job.status == CompactionJob.Status.SUCCEEDED, job.status_reason
    # Storage alone: not one request reached Atlassian (the sandbox).
    assert backup_env.state.request_log.records == []
    compacted = Snapshot.objects.get(pk=job.snapshot_id)
    assert compacted.compacted_from == newest
    assert (compacted.kind, compacted.layers, compacted.job) == ("full", 1, None)
    assert (compacted.started_at, compacted.completed_at) == (
        newest.started_at,
        newest.completed_at,
    )
    reader = reader_of(compacted)
    manifest = reader.manifest
    assert (manifest.kind, manifest.base_snapshot_id) == ("full", None)
    assert manifest.compacted_from == str(newest.pk)
    # One base: every issue shard is layer 0, and no tombstone is left.
    assert {s.seq for s in manifest.shards} == {0}
    assert not any(
        r.get("_deleted")
        for s in manifest.shards_of("issues")
        for r in reader.shard_records(s.sha256)
    )
    assert verify_snapshot(acme.cloud_id, str(compacted.pk), deep=True) == []

    fresh = backup(acme, BackupJob.Kind.FULL)
    assert fresh.status == BackupJob.Status.SUCCEEDED, fresh.status_reason
    assert differences(normalize_snapshot(reader), normalize_snapshot(snapshot_reader(fresh))) == []
    assert normalize_snapshot(reader) == normalize_snapshot(snapshot_reader(fresh))
    assert comparable(reader) == comparable(snapshot_reader(fresh))
    assert compacted.counts["issues"] == fresh.snapshot.counts["issues"]
    # The attachments it names are exactly those of the site's issues (the chain carried more).
    assert dict(reader.attachment_refs()) == dict(snapshot_reader(fresh).attachment_refs())

    event = AuditEvent.objects.get(action="backup.snapshot_compacted")
    assert event.summary["source"] == str(newest.pk)
    assert event.summary["layers_before"] == 31


def test_the_next_incremental_builds_on_the_compacted_snapshot_and_retention_drops_the_chain(
    acme, backup_env
):
    from backups.models import BackupSchedule

    newest = chain(acme, backup_env, 3, seed="next")
    compacted = Snapshot.objects.get(pk=compact(newest).snapshot_id)
    store = ObjectStore(acme.cloud_id)
    chain_only = set(dict(reader_of(newest).stored_objects())) - set(
        dict(reader_of(compacted).stored_objects())
    )
    assert chain_only  # the layers' shards, the tombstones, deleted issues' attachments

    backup_env.mutate(fraction=0.1, site="acme", seed="after")
    job = backup(acme, BackupJob.Kind.INCREMENTAL)
    assert job.base_snapshot_id == compacted.pk
    assert job.snapshot.layers == 2
    assert {s.seq for s in snapshot_reader(job).manifest.shards_of("issues")} == {0, 1}

    BackupSchedule.objects.create(
        site=acme, keep_last=2, keep_daily=0, keep_weekly=0, keep_monthly=0
    )
    acme.refresh_from_db()
    report = prune_site(site=acme)

    # Kept: the newest incremental and its base, the compacted snapshot; its source (the same
    # moment) and the old chain are pruned, and what only they named is deleted.
    complete = set(
        Snapshot.objects.filter(site=acme, status="complete").values_list("pk", flat=True)
    )
    assert complete == {job.snapshot.pk, compacted.pk}
    assert str(newest.pk) in report.pruned_snapshots
    # (The new incremental may name an equal object: a refs shard of the same attachments.)
    gone = chain_only - set(dict(snapshot_reader(job).stored_objects()))
    assert gone
    assert gone <= set(report.deleted_objects)
    assert not any(store.exists(sha) for sha in gone)
    assert verify_snapshot(acme.cloud_id, str(compacted.pk), deep=True) == []
    assert verify_snapshot(acme.cloud_id, str(job.snapshot_id), deep=True) == []
    pruned = AuditEvent.objects.get(
        action="backup.snapshot_pruned", target_object_id=str(newest.pk)
    )
    assert pruned.summary["compacted_into"] == str(compacted.pk)
    # Every object still stored is counted by the snapshots that name it.
    named = set(dict(reader_of(compacted).stored_objects())) | set(
        dict(snapshot_reader(job).stored_objects())
    )
    assert set(StoredObjectRef.objects.filter(site=acme).values_list("sha256", flat=True)) == named
    assert set(store.list_all()) == {store.name(sha) for sha in named}


def test_a_compaction_killed_mid_way_resumes_after_the_last_project_done(backup_env, db):
    backup_env.state.reset(seed="resume", projects=3, issues=30)
    acme = connect_site(backup_env, "acme")
    newest = chain(acme, backup_env, 2, seed="resume")
    job, _ = compaction.compaction_enqueue(snapshot=newest, acting_user=None, enqueue=False)

    # One unit per slice: after the first slice one project is checkpointed.
    outcome = compaction.run_compaction(job.pk, slice_seconds=0)
    assert outcome.state == "requeue"
    job.refresh_from_db()
    assert len(job.state["projects"]) == 1
    first = dict(job.state["projects"])

    # A worker takes it and dies: the lease stays with the dead worker until it expires.
    assert leases.claim(CompactionJob, job.pk) is not None
    assert compaction.run_compaction(job.pk).state == "busy"
    assert compaction.compaction_jobs_reap() == []
    CompactionJob.objects.filter(pk=job.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert compaction.compaction_jobs_reap() == [job.pk]

    job = run_compaction_to_end(job)
    assert job.status == CompactionJob.Status.SUCCEEDED, job.status_reason
    assert {k: v for k, v in job.state["projects"].items() if k in first} == first
    compacted = reader_of(Snapshot.objects.get(pk=job.snapshot_id))
    assert comparable(compacted) == comparable(reader_of(newest))


def test_beat_compacts_a_site_whose_newest_snapshot_merges_too_many_layers(
    acme, backup_env, settings
):
    settings.BACKUPS_COMPACT_AFTER_LAYERS = 3
    chain(acme, backup_env, 1, seed="beat")
    assert compaction.compactions_due() == []

    backup_env.mutate(fraction=0.1, site="acme", seed="beat-2")
    newest = backup(acme, BackupJob.Kind.INCREMENTAL).snapshot
    assert compaction.compactions_due() == [newest]
    [job_id] = compaction.compactions_enqueue_due()
    # Queued once: a second pass finds the job.
    assert compaction.compactions_enqueue_due() == []
    event = AuditEvent.objects.get(action="backup.compaction_enqueued")
    assert event.summary == {"site": acme.cloud_id, "snapshot": str(newest.pk), "layers": 3}

    job = run_compaction_to_end(CompactionJob.objects.get(pk=job_id))
    assert job.status == CompactionJob.Status.SUCCEEDED
    assert compaction.compactions_due() == []
    with pytest.raises(BackupRefused, match="already compacted"):
        compaction.compaction_enqueue(snapshot=newest, acting_user=None)


def test_pruning_leaves_the_objects_of_a_running_compaction_alone(acme, backup_env):
    from backups.models import BackupSchedule

    newest = chain(acme, backup_env, 2, seed="gc")
    BackupSchedule.objects.create(
        site=acme, keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0
    )
    acme.refresh_from_db()
    job, _ = compaction.compaction_enqueue(snapshot=newest, acting_user=None, enqueue=False)
    compaction.run_compaction(job.pk, slice_seconds=0)  # objects written, no manifest yet
    job.refresh_from_db()
    written = {s["sha256"] for p in job.state["projects"].values() for s in p["shards"]}

    report = prune_site(site=acme)

    assert report.skipped_gc_reason == "a compaction job is active for the site"
    assert all(ObjectStore(acme.cloud_id).exists(sha) for sha in written)
    assert Snapshot.objects.get(pk=newest.pk).status == "complete"  # the source stays
    job = run_compaction_to_end(job)
    assert verify_snapshot(acme.cloud_id, str(job.snapshot_id), deep=True) == []


def test_a_full_snapshot_is_not_compacted(acme, backup_env):
    full = backup(acme).snapshot
    with pytest.raises(BackupRefused, match="full snapshot"):
        compaction.compaction_enqueue(snapshot=full, acting_user=None)
    assert not CompactionJob.objects.exists()


def test_the_command_compacts_a_site_and_its_dry_run_changes_nothing(acme, backup_env):
    newest = chain(acme, backup_env, 2, seed="cmd")
    out, err = StringIO(), StringIO()
    call_command("compact_snapshots", "--site", acme.cloud_id, "--dry-run", stdout=out, stderr=err)
    assert "dry run: 1 compaction queued" in out.getvalue()
    assert not CompactionJob.objects.exists()

    out = StringIO()
    call_command(
        "compact_snapshots",
        "--site",
        acme.cloud_id,
        "--wait",
        "--format",
        "json",
        stdout=out,
        stderr=err,
    )
    [row] = json.loads(out.getvalue())
    assert row["result"] == "done"
    job = CompactionJob.objects.get()
    assert job.status == "succeeded"
    assert Snapshot.objects.get(pk=job.snapshot_id).compacted_from == newest

    # The newest is now the compacted full: nothing left to compact (exit 1, named).
    with pytest.raises(CommandError, match="full snapshot") as raised:
        call_command("compact_snapshots", "--site", acme.cloud_id, stdout=out, stderr=err)
    assert raised.value.returncode == 1
    with pytest.raises(CommandError, match="no site matches 'nope'") as raised:
        call_command("compact_snapshots", "--site", "nope", stdout=out, stderr=err)
    assert raised.value.returncode == 2
