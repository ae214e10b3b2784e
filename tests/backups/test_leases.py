"""Database invariants on PostgreSQL: one active job per site, and fencing of stale workers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from backups.engine.checkpoints import commit_checkpoint
from backups.exceptions import LeaseLost
from backups.jobs import leases
from backups.models import BackupJob, Checkpoint
from tests.factories import JiraSiteFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_database_refuses_a_second_active_job_for_a_site(on_postgres):
    site = JiraSiteFactory()
    BackupJob.objects.create(site=site, kind="full")
    with pytest.raises(IntegrityError), transaction.atomic():
        BackupJob.objects.create(site=site, kind="full", status=BackupJob.Status.RUNNING)
    BackupJob.objects.create(site=site, kind="full", status=BackupJob.Status.FAILED)
    assert BackupJob.objects.filter(site=site).count() == 2


def test_a_step_that_outlived_its_lease_cannot_commit(on_postgres):
    site = JiraSiteFactory()
    job = BackupJob.objects.create(site=site, kind="full")
    stale = leases.claim(BackupJob, job.pk)
    assert stale is not None
    # The lease runs out (worker stalled); the reaper's redelivery claims the job again.
    BackupJob.objects.filter(pk=job.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    fresh = leases.claim(BackupJob, job.pk)
    assert fresh is not None and fresh.generation == stale.generation + 1

    with pytest.raises(LeaseLost):
        commit_checkpoint(
            stale, key="config", seq=0, result={"by": "stale"}, points=5, objects=0, bytes_stored=0
        )
    commit_checkpoint(
        fresh, key="config", seq=0, result={"by": "fresh"}, points=7, objects=0, bytes_stored=0
    )

    checkpoint = Checkpoint.objects.get(job=job, key="config")
    assert checkpoint.result == {"by": "fresh"}
    assert checkpoint.lease_generation == fresh.generation
    job.refresh_from_db()
    assert job.points_spent == 7


def test_concurrent_claims_give_the_job_to_exactly_one_worker(on_postgres):
    site = JiraSiteFactory()
    job = BackupJob.objects.create(site=site, kind="full")
    barrier = threading.Barrier(8)
    winners = []

    def worker():
        barrier.wait()
        try:
            if leases.claim(BackupJob, job.pk) is not None:
                winners.append(1)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
