"""Failures are states: re-authorization pauses (and resumes), a deleted site fails with its
reason, duplicate enqueues are no-ops, and a job keeps its last checkpoint for the admin."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from backups.engine.runner import run_job
from backups.jobs.leases import claim
from backups.models import BackupJob, Snapshot
from backups.services import backup_job_enqueue, backup_jobs_reap
from tenants.models import JiraSite, OAuthGrant
from tenants.services.grants import grant_upsert
from tenants.services.sites import site_use_grant
from tests.backups.conftest import backup, run_to_end, snapshot_reader


def test_a_revoked_grant_pauses_the_job_without_a_snapshot_and_it_resumes_after_reauthorization(
    acme, backup_env
):
    job, _ = backup_job_enqueue(site=acme, kind=BackupJob.Kind.FULL, acting_user=None)
    assert run_job(job.pk, slice_seconds=0).state == "requeue"  # one step done
    backup_env.state.revoke_grant(backup_env.state.admin)

    outcome = run_job(job.pk, slice_seconds=3600)

    job.refresh_from_db()
    assert outcome.state == "paused"
    assert job.status == BackupJob.Status.PAUSED_NEEDS_REAUTH
    assert "re-authorization" in job.status_reason
    assert job.last_checkpoint == "config"
    assert not Snapshot.objects.filter(site=acme).exists()
    # Another enqueue while paused returns the same job.
    again, created = backup_job_enqueue(site=acme, kind=BackupJob.Kind.FULL, acting_user=None)
    assert (again.pk, created) == (job.pk, False)

    grant = OAuthGrant.objects.get(pk=acme.grant_id)
    acme.refresh_from_db()
    assert grant.status == OAuthGrant.Status.NEEDS_REAUTH
    assert acme.status == JiraSite.Status.NEEDS_REAUTH
    assert backup_jobs_reap() == []  # not resumed while the grant is dead: no silent loop

    # The customer authorizes again (the connect flow stores the new grant).
    tokens = backup_env.connect(sites=[backup_env.site("acme")])
    grant_upsert(
        account_id=grant.account_id,
        scopes=tokens.scope.split(),
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        access_token_expires_at=timezone.now() + timedelta(hours=1),
        sites=[(acme, tokens.scope.split())],
        acting_user=None,
    )
    acme.refresh_from_db()
    if acme.status != JiraSite.Status.ACTIVE:
        site_use_grant(site=acme, grant=OAuthGrant.objects.get(pk=grant.pk), acting_user=None)
    assert backup_jobs_reap() == [job.pk]  # resumed by the reaper once the site works again
    job.refresh_from_db()
    assert job.status == BackupJob.Status.QUEUED
    job = run_to_end(job)

    assert job.status == BackupJob.Status.SUCCEEDED, job.status_reason
    records = {r["key"] for r in snapshot_reader(job).records("issues")}
    assert records == {i.key for i in backup_env.site("acme").live_issues()}


def test_a_deleted_site_fails_the_job_with_its_reason(acme, backup_env):
    backup_env.state.delete_site("acme")
    job, _ = backup_job_enqueue(site=acme, kind=BackupJob.Kind.FULL, acting_user=None)

    job = run_to_end(job)

    assert job.status == BackupJob.Status.FAILED
    assert job.status_reason.startswith("site deleted")
    assert job.finished_at is not None
    acme.refresh_from_db()
    assert acme.status == JiraSite.Status.DISCONNECTED
    assert not Snapshot.objects.filter(site=acme).exists()


def test_enqueueing_twice_gives_one_active_job(acme):
    first, created_first = backup_job_enqueue(site=acme, kind="full", acting_user=None)
    second, created_second = backup_job_enqueue(site=acme, kind="incremental", acting_user=None)
    assert created_first and not created_second
    assert first.pk == second.pk
    assert BackupJob.objects.filter(site=acme).count() == 1


def test_an_incremental_request_without_any_snapshot_runs_as_a_full_backup(acme):
    job, _ = backup_job_enqueue(site=acme, kind="incremental", acting_user=None)
    assert job.kind == BackupJob.Kind.FULL
    assert job.requested_kind == BackupJob.Kind.INCREMENTAL


def test_a_second_delivery_of_a_running_job_does_nothing(acme):
    job, _ = backup_job_enqueue(site=acme, kind="full", acting_user=None)
    lease = claim(BackupJob, job.pk)
    assert lease is not None
    assert run_job(job.pk).state == "busy"
    job.refresh_from_db()
    assert job.lease_token == lease.token


def test_the_reaper_requeues_a_job_whose_lease_expired(
    acme, django_capture_on_commit_callbacks, monkeypatch
):
    job, _ = backup_job_enqueue(site=acme, kind="full", acting_user=None)
    BackupJob.objects.filter(pk=job.pk).update(
        status=BackupJob.Status.RUNNING, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    from backups import tasks

    sent = []
    monkeypatch.setattr(tasks.run_backup_job, "apply_async", lambda args, **kw: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        requeued = backup_jobs_reap()
    assert requeued == [job.pk]
    assert sent == [(job.pk,)]


def test_a_full_backup_after_a_snapshot_downloads_no_attachment_again(acme, backup_env):
    backup(acme)
    backup_env.state.request_log.clear()
    job = backup(acme)
    assert job.status == BackupJob.Status.SUCCEEDED
    paths = [r.path for r in backup_env.state.request_log.records]
    assert not any("/attachment/content/" in p for p in paths)
