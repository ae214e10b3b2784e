"""Celery tasks of roll-back: thin, ids only (found by autodiscovery through backups.tasks)."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready

from backups.jobs.driver import run_task
from backups.rollback.executor import run_rollback
from backups.rollback.services import rollback_jobs_reap


@shared_task(
    bind=True,
    name="backups.rollback.tasks.run_rollback_job",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=0,
    ignore_result=True,
)
def run_rollback_job(self, job_id: int) -> str:
    """Run one slice of a roll-back and re-queue it while work remains (a duplicate delivery
    finds the job leased or finished and does nothing)."""
    return run_task(self, job_id, run_rollback)


@shared_task(
    name="backups.rollback.tasks.reap_stale_rollback_jobs", max_retries=0, ignore_result=True
)
def reap_stale_rollback_jobs() -> int:
    """Beat, every minute: re-queue roll-backs whose worker died."""
    return len(rollback_jobs_reap())


@worker_ready.connect
def _reap_rollbacks_when_a_worker_starts(**_kwargs) -> None:
    # A restarted worker picks up roll-backs its predecessor was killed in (leases expired).
    reap_stale_rollback_jobs.delay()
