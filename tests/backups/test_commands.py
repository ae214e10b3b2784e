"""The operator's commands: backup_site and verify_snapshots."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from backups.models import BackupJob, Snapshot
from backups.snapshots.objects import ObjectStore
from portal.celery import app as celery_app
from tests.backups.conftest import backup


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.mark.django_db(transaction=True)
def test_backup_site_full_wait_runs_the_job_and_reports_it(acme, eager_celery):
    # transaction=True: the enqueue's on_commit fires at once and the eager task runs the job.
    out = io.StringIO()
    call_command("backup_site", acme.cloud_id, "--full", "--wait", "--poll", "0", stdout=out)
    job = BackupJob.objects.get(site=acme)
    assert job.status == BackupJob.Status.SUCCEEDED
    text = out.getvalue()
    assert f"queued full backup job {job.pk}" in text
    assert f"job {job.pk} succeeded: {job.objects_done} issues, {job.points_spent} points" in text
    assert Snapshot.objects.filter(pk=job.snapshot_id).exists()


def test_backup_site_names_an_unknown_site_and_exits_2(db):
    with pytest.raises(CommandError, match="no site matches 'nowhere'") as raised:
        call_command("backup_site", "nowhere")
    assert raised.value.returncode == 2


def test_verify_snapshots_passes_quick_and_deep_on_intact_snapshots(acme):
    backup(acme)
    out = io.StringIO()
    call_command("verify_snapshots", "--site", acme.cloud_id, "--deep", stdout=out)
    assert "deep verification: 1 snapshot, no problems" in out.getvalue()


def test_verify_snapshots_deep_fails_and_names_an_object_with_one_flipped_byte(acme):
    job = backup(acme)
    snapshot = Snapshot.objects.get(pk=job.snapshot_id)
    store = ObjectStore(acme.cloud_id)
    from backups.snapshots.reader import SnapshotReader

    victim, _size = next(SnapshotReader.open(acme.cloud_id, str(snapshot.pk)).attachment_refs())
    path = store.storage.path(store.path(victim))
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x40
    open(path, "wb").write(bytes(data))

    call_command("verify_snapshots", stdout=io.StringIO())  # quick: sizes still match
    out = io.StringIO()
    with pytest.raises(CommandError, match="deep verification: 1 problem in 1 snapshot of 1"):
        call_command("verify_snapshots", "--deep", stdout=out)
    assert store.path(victim) in out.getvalue()
    snapshot.refresh_from_db()
    assert snapshot.last_verify_problems and store.path(victim) in snapshot.last_verify_problems[0]


def test_verify_snapshots_quick_fails_on_a_missing_object(acme):
    job = backup(acme)
    manifest_shard = (
        __import__("backups.snapshots.reader", fromlist=["SnapshotReader"])
        .SnapshotReader.open(acme.cloud_id, str(job.snapshot_id))
        .manifest.shards_of("issues")[0]
    )
    ObjectStore(acme.cloud_id).delete(manifest_shard.sha256)
    out = io.StringIO()
    with pytest.raises(CommandError, match="quick verification: 1 problem") as raised:
        call_command("verify_snapshots", stdout=out)
    assert raised.value.returncode == 1
    assert "object is missing" in out.getvalue()
