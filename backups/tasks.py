"""Celery tasks: thin, ids only. The work is in ``backups.engine`` and ``backups.services``."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready

from backups.engine.runner import run_job
from backups.jobs.driver import run_task
from backups.services import backup_jobs_reap, schedules_enqueue_due


@shared_task(
    bind=True,
    name="backups.tasks.run_backup_job",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=0,
    ignore_result=True,
)
def run_backup_job(self, job_id: int) -> str:
    """Run one slice of a job and re-queue it when work remains. A duplicate delivery finds the
    job leased or finished and does nothing; a *redelivered* message that finds it leased comes
    back when that lease expires (its worker died)."""
    return run_task(self, job_id, run_job)


@shared_task(name="backups.tasks.reap_stale_backup_jobs", max_retries=0, ignore_result=True)
def reap_stale_backup_jobs() -> int:
    """Beat, every minute: re-queue jobs (backups and compactions) whose worker died; resume
    re-authorized ones."""
    from backups.compaction import compaction_jobs_reap

    return len(backup_jobs_reap()) + len(compaction_jobs_reap())


@shared_task(
    bind=True,
    name="backups.run_compaction_job",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=0,
    ignore_result=True,
)
def run_compaction_job(self, job_id: int) -> str:
    """Run one slice of a compaction and re-queue it when work remains (like a backup job)."""
    from backups.compaction import run_compaction

    return run_task(self, job_id, run_compaction)


@shared_task(name="backups.compact_due_snapshots", max_retries=0, ignore_result=True)
def compact_due_snapshots() -> int:
    """Beat, hourly: queue the compaction of every site whose newest snapshot merges too many
    layers (``BACKUPS_COMPACT_AFTER_LAYERS``)."""
    from backups.compaction import compactions_enqueue_due

    return len(compactions_enqueue_due())


@shared_task(name="backups.tasks.enqueue_due_backups", max_retries=0, ignore_result=True)
def enqueue_due_backups() -> int:
    """Beat, every few minutes: enqueue the sites whose schedule is due; then prune."""
    from backups.retention import prune_all

    created = len(schedules_enqueue_due())
    prune_all()
    return created


@shared_task(name="backups.refresh_schedule_estimates", max_retries=0, ignore_result=True)
def refresh_schedule_estimates() -> int:
    """Beat, daily: the estimate's look-back window slides, so recompute every schedule's
    estimate (and last success) even when no snapshot committed."""
    from backups.services import schedule_estimates_refresh

    return schedule_estimates_refresh()


@worker_ready.connect
def _reap_when_a_worker_starts(**_kwargs) -> None:
    # A restarted worker picks up jobs its predecessor was killed in (their leases expired)
    # without waiting for beat: the broker may hold their messages unacked for much longer.
    reap_stale_backup_jobs.delay()


from backups.restore.tasks import reap_stale_restore_jobs, run_restore_job  # noqa: E402,F401
from backups.rollback.tasks import reap_stale_rollback_jobs, run_rollback_job  # noqa: E402,F401


@shared_task(name="backups.erase_offboarded_tenants", max_retries=0, ignore_result=True)
def erase_offboarded_tenants() -> int:
    """Erase the backups of tenants offboarded more than OFFBOARDING_GRACE_DAYS ago (unless a
    legal hold stops it; backups/erasure.py)."""
    from backups.erasure import erase_due

    return len(erase_due())
