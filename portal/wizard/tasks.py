"""Beat tasks of the migration campaign: thin, no arguments, no retries (the next beat is the
retry). Loaded through ``CELERY_IMPORTS`` (settings); the work is in
``tenants.services.campaigns``."""

from __future__ import annotations

from celery import shared_task

from tenants.services.campaigns import legacy_sites_pause_after_cutoff, migration_invites_expire


@shared_task(name="wizard.pause_legacy_sites_after_cutoff", max_retries=0, ignore_result=True)
def pause_legacy_sites_after_cutoff() -> int:
    """From LEGACY_CUTOFF on, mark legacy sites "re-authorization required" (idempotent)."""
    return len(legacy_sites_pause_after_cutoff())


@shared_task(name="wizard.expire_migration_invites", max_retries=0, ignore_result=True)
def expire_migration_invites() -> int:
    """Invited cases whose links all expired become invite_expired (idempotent)."""
    return len(migration_invites_expire())
