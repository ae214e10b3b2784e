"""Celery tasks of restore: thin, ids only (found by autodiscovery through backups.tasks)."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready

from backups.jobs.driver import run_task
from backups.restore.executor import run_restore
from backups.restore.services import restore_jobs_reap


@shared_task(
    bind=True,
    name="backups.restore.tasks.run_restore_job",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=0,
    ignore_result=True,
)
def run_restore_job(self, job_id: int) -> str:
    """Run one slice of a restore and re-queue it while work remains (a duplicate delivery
    finds the job leased or finished and does nothing; a redelivered one that finds it leased
    comes back when the lease expires)."""
    return run_task(self, job_id, run_restore)


@shared_task(
    name="backups.restore.tasks.reap_stale_restore_jobs", max_retries=0, ignore_result=True
)
def reap_stale_restore_jobs() -> int:
    """Beat, every minute: re-queue restores whose worker died."""
    return len(restore_jobs_reap())


@worker_ready.connect
def _reap_restores_when_a_worker_starts(**_kwargs) -> None:
    # A restarted worker picks up restores its predecessor was killed in (leases expired)
    # without waiting for beat.
    reap_stale_restore_jobs.delay()
