"""Celery tasks for grant upkeep: thin, ids only, bounded retries. The work is in
``tenants.upkeep``; the schedule is ``CELERY_BEAT_SCHEDULE`` in settings."""

from __future__ import annotations

from celery import shared_task

from tenants import upkeep
from tenants.services.encryption import encryption_sweep_data_keys
from tenants.tokens import TokenUnavailable

# Transient token-endpoint failures: try again a few minutes later, a bounded number of times.
RETRY_COUNTDOWN = 300


@shared_task(name="tenants.upkeep.refresh_idle_grants", max_retries=0, ignore_result=True)
def refresh_idle_grants() -> int:
    ids = upkeep.idle_grant_ids()
    for grant_id in ids:
        refresh_idle_grant.delay(str(grant_id))
    return len(ids)


@shared_task(bind=True, name="tenants.upkeep.refresh_idle_grant", max_retries=3)
def refresh_idle_grant(self, grant_id: str) -> bool:
    try:
        return upkeep.refresh_idle_grant(grant_id=grant_id)
    except TokenUnavailable as exc:
        raise self.retry(exc=exc, countdown=RETRY_COUNTDOWN) from None


@shared_task(name="tenants.upkeep.invite_expiring_grants", max_retries=0, ignore_result=True)
def invite_expiring_grants() -> int:
    return sum(
        upkeep.invite_reconsent(grant_id=grant_id) for grant_id in upkeep.expiring_grant_ids()
    )


@shared_task(name="tenants.upkeep.reconcile_all_grants", max_retries=0, ignore_result=True)
def reconcile_all_grants() -> int:
    ids = upkeep.active_grant_ids()
    for grant_id in ids:
        reconcile_grant.delay(str(grant_id))
    return len(ids)


@shared_task(bind=True, name="tenants.upkeep.reconcile_grant", max_retries=3)
def reconcile_grant(self, grant_id: str) -> list[str]:
    try:
        return upkeep.reconcile_grant_sites(grant_id=grant_id)
    except TokenUnavailable as exc:
        raise self.retry(exc=exc, countdown=RETRY_COUNTDOWN) from None


@shared_task(name="tenants.sweep_data_keys", max_retries=0, ignore_result=True)
def sweep_data_keys() -> int:
    """Beat, daily: finish data-key destructions the key store refused at commit time, and
    destroy the keys of deleted rows and rolled-back transactions, so their old row versions
    become undecryptable too (``tenants.services.encryption``)."""
    of_deleted_rows, orphaned = encryption_sweep_data_keys()
    return of_deleted_rows + orphaned
