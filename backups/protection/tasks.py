"""Beat tasks of protection: thin, no arguments, no retries (the next beat is the retry). The
schedule is ``CELERY_BEAT_SCHEDULE`` in settings; loaded through ``CELERY_IMPORTS``."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="protection.refresh", max_retries=0, ignore_result=True)
def refresh() -> dict:
    """Every minute: job outcomes in, states recomputed, incidents opened and closed."""
    from backups.protection.routine import protection_sweep

    return protection_sweep()


@shared_task(name="protection.send_migration_reminders", max_retries=0, ignore_result=True)
def send_migration_reminders() -> int:
    """Hourly: the migration campaign's reminders that are due (each sent once)."""
    from backups.protection.routine import migration_reminders_send_due

    return migration_reminders_send_due()


@shared_task(name="protection.verify_sample", max_retries=0, ignore_result=True)
def verify_sample() -> int:
    """Daily: verify the newest snapshots of a seventh of the sites; deep-verify a sample."""
    from backups.protection.verify_sampling import verify_sample as run

    return len(run().problems)


@shared_task(name="protection.grants_last_used", max_retries=0, ignore_result=True)
def grants_last_used() -> int:
    """Hourly: each grant's "last used" from the jobs that used it (one write per hour)."""
    from backups.protection.routine import grants_last_used_write

    return grants_last_used_write()


@shared_task(name="protection.weekly_reports", max_retries=0, ignore_result=True)
def weekly_reports() -> int:
    """Weekly: the protection report to the tenants who asked for it."""
    from backups.protection.report import weekly_reports_send

    return weekly_reports_send()
