"""Cancelling and resuming backup and restore jobs: the state, the audit row, and a worker still
holding the job fenced out (it commits nothing after the cancel)."""

from __future__ import annotations

import pytest

from backups.engine.checkpoints import commit_checkpoint
from backups.engine.runner import run_job
from backups.exceptions import LeaseLost
from backups.jobs import leases
from backups.models import BackupJob, Checkpoint, Snapshot
from backups.restore.models import RestoreJob
from backups.restore.services import restore_job_cancel, restore_job_create, restore_job_resume
from backups.services import backup_job_cancel, backup_job_enqueue, backup_job_resume
from tenants.models import AuditEvent
from tests.backups.conftest import backup
from tests.factories import UserFactory
from tests.restore.conftest import empty_site


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def test_cancelling_a_running_backup_fences_out_its_worker_and_is_audited_once(acme):
    staff = UserFactory(is_staff=True)
    job, _ = backup_job_enqueue(site=acme, kind=BackupJob.Kind.FULL, acting_user=None)
    assert run_job(job.pk, slice_seconds=0).state == "requeue"  # config done
    held = leases.claim(BackupJob, job.pk)  # a worker in the middle of its next step
    assert held is not None

    job = backup_job_cancel(job=job, acting_user=staff, reason="customer asked")

    assert (job.status, job.status_reason) == (BackupJob.Status.CANCELLED, "customer asked")
    assert job.lease_token is None and job.finished_at is not None
    [event] = _events("backup.job_cancelled")
    assert (event.actor, event.target_object_id, event.summary) == (
        staff,
        str(job.pk),
        {"reason": "customer asked"},
    )
    with pytest.raises(LeaseLost):
        commit_checkpoint(held, key="meta:x", seq=1, result={}, points=1, objects=0, bytes_stored=0)
    with pytest.raises(LeaseLost):
        held.heartbeat(force=True)
    assert not Checkpoint.objects.filter(job=job, key="meta:x").exists()
    assert run_job(job.pk).state == "busy"  # nothing left to claim
    # Cancelling what has ended changes nothing and writes no second event.
    again = backup_job_cancel(job=job, acting_user=staff, reason="twice")
    assert again.status_reason == "customer asked"
    assert len(_events("backup.job_cancelled")) == 1
    assert not Snapshot.objects.filter(site=acme).exists()


def test_a_finished_backup_is_not_cancelled(acme):
    job = backup(acme)
    assert backup_job_cancel(job=job, acting_user=None).status == BackupJob.Status.SUCCEEDED
    assert _events("backup.job_cancelled") == []


def test_only_a_paused_backup_resumes(acme):
    job, _ = backup_job_enqueue(site=acme, kind=BackupJob.Kind.FULL, acting_user=None)
    assert backup_job_resume(job=job, acting_user=None).status == BackupJob.Status.QUEUED
    assert _events("backup.job_resumed") == []  # it was not paused: nothing happened

    BackupJob.objects.filter(pk=job.pk).update(
        status=BackupJob.Status.PAUSED_NEEDS_REAUTH,
        status_reason="needs re-authorization",
        attempts=3,
    )
    job = backup_job_resume(job=job, acting_user=None)

    assert (job.status, job.status_reason, job.attempts) == (BackupJob.Status.QUEUED, "resumed", 0)
    assert len(_events("backup.job_resumed")) == 1


def test_cancelling_a_restore_fences_out_its_worker_and_resume_requeues_a_paused_one(
    acme, backup_env
):
    staff = UserFactory(is_staff=True)
    snapshot = backup(acme).snapshot
    target = empty_site(backup_env, "bravo", tenant=acme.tenant)
    job = restore_job_create(
        snapshot=snapshot, target_site=target, acting_user=staff, enqueue=False
    )
    held = leases.claim(RestoreJob, job.pk)
    assert held is not None

    job = restore_job_cancel(job=job, acting_user=staff, reason="wrong target")

    assert (job.status, job.status_reason) == (RestoreJob.Status.CANCELLED, "wrong target")
    assert job.lease_token is None and job.finished_at is not None
    [event] = _events("restore.job_cancelled")
    assert (event.actor, event.summary) == (staff, {"reason": "wrong target"})
    with pytest.raises(LeaseLost):
        held.heartbeat(force=True)
    restore_job_cancel(job=job, acting_user=staff)
    assert len(_events("restore.job_cancelled")) == 1

    other = restore_job_create(
        snapshot=snapshot, target_site=target, acting_user=staff, enqueue=False
    )
    RestoreJob.objects.filter(pk=other.pk).update(status=RestoreJob.Status.PAUSED_NEEDS_REAUTH)
    other = restore_job_resume(job=other, acting_user=staff)
    assert (other.status, other.status_reason) == (RestoreJob.Status.QUEUED, "resumed")
    assert [e.target_object_id for e in _events("restore.job_resumed")] == [str(other.pk)]
