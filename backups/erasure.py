"""Offboarding that deletes (issue 22): ``OFFBOARDING_GRACE_DAYS`` after a tenant was
offboarded, every snapshot of its sites is erased from storage — manifests and objects, sealed
or plain, and anything else under the sites' folders — and the tenant's snapshot data key is
destroyed (crypto-shred: a copy of an object that escaped deletion, e.g. in a bucket's
replica, can no longer be opened). A ``TenantErasure`` row is the evidence (counts and times),
``tenant.backups_erased`` the audit event. A legal hold on the tenant or one of its sites stops
it: nothing is deleted, the row says ``held``, and the next pass after the release erases.
Beat runs ``erase_due`` daily (``backups.erase_offboarded_tenants``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone

from backups.models import Snapshot, StoredAttachment, TenantErasure
from backups.protection.models import StoredObjectRef
from backups.snapshots import layout, sealing
from backups.snapshots.objects import site_storage
from tenants import keys
from tenants.audit import record_event
from tenants.models import Tenant
from tenants.selectors import hold_on

logger = logging.getLogger(__name__)


def due_tenants(now: datetime):
    grace = timedelta(days=settings.OFFBOARDING_GRACE_DAYS)
    return (
        Tenant.objects.filter(status=Tenant.Status.OFFBOARDED, offboarded_at__lte=now - grace)
        .exclude(erasure__status=TenantErasure.Status.DONE)
        .order_by("pk")
    )


def erase_due(*, now: datetime | None = None) -> list[TenantErasure]:
    now = now or timezone.now()
    done = []
    for tenant in due_tenants(now):
        try:
            done.append(tenant_backups_erase(tenant=tenant, acting_user=None, now=now))
        except Exception:  # one tenant's storage trouble must not stop the others
            logger.exception(
                "erasing the backups of tenant %s failed; next pass retries", tenant.pk
            )
    return done


def tenant_backups_erase(*, tenant: Tenant, acting_user=None, now=None) -> TenantErasure:
    """Erase every snapshot of an offboarded tenant and destroy its snapshot data key, unless
    a legal hold stops it. Safe to run again (an interrupted erasure resumes)."""
    now = now or timezone.now()
    if tenant.status != Tenant.Status.OFFBOARDED:
        raise ValueError(f"tenant {tenant.slug} is not offboarded: its backups are kept")
    erasure = TenantErasure.objects.filter(tenant=tenant).first()
    if erasure is not None and erasure.status == TenantErasure.Status.DONE:
        return erasure
    hold = hold_on(tenant=tenant)
    if hold is not None:
        return _held(tenant, erasure, hold, now, acting_user)
    sites = list(tenant.sites.order_by("pk"))
    objects = bytes_ = 0
    for site in sites:
        storage = site_storage(site.cloud_id)
        for path in _files(storage, layout.site_root(site.cloud_id)):
            bytes_ += storage.size(path)
            storage.delete(path)
            objects += 1
    with transaction.atomic():
        snapshots = Snapshot.objects.filter(site__in=sites, status=Snapshot.Status.COMPLETE)
        erased = snapshots.update(status=Snapshot.Status.PRUNED, pruned_at=now)
        StoredObjectRef.objects.filter(site__in=sites).delete()
        StoredAttachment.objects.filter(site__in=sites).delete()
        key_ids = keys.destroy_scope(sealing.tenant_scope(tenant.pk))
        fields = {
            "status": TenantErasure.Status.DONE,
            "detail": "",
            "offboarded_at": tenant.offboarded_at,
            "started_at": erasure.started_at if erasure else now,
            "finished_at": timezone.now(),
            "sites": [s.cloud_id for s in sites],
            "snapshots_erased": erased + (erasure.snapshots_erased if erasure else 0),
            "objects_deleted": objects,
            "bytes_deleted": bytes_,
            "data_keys_destroyed": key_ids,
        }
        erasure, _ = TenantErasure.objects.update_or_create(tenant=tenant, defaults=fields)
        record_event(
            actor=acting_user,
            action="tenant.backups_erased",
            target=erasure,
            tenant=tenant,
            summary={
                "sites": len(sites),
                "snapshots": erasure.snapshots_erased,
                "objects": objects,
                "bytes": bytes_,
                "data_keys_destroyed": key_ids,
            },
        )
    return erasure


def _held(tenant, erasure, hold, now, acting_user) -> TenantErasure:
    detail = f"legal hold placed {hold.placed_at:%Y-%m-%d %H:%M} UTC: nothing erased"
    with transaction.atomic():
        if erasure is None or erasure.detail != detail:
            erasure, _ = TenantErasure.objects.update_or_create(
                tenant=tenant,
                defaults={
                    "status": TenantErasure.Status.HELD,
                    "detail": detail,
                    "offboarded_at": tenant.offboarded_at,
                    "started_at": now,
                },
            )
            record_event(
                actor=acting_user,
                action="tenant.backups_erasure_held",
                target=erasure,
                tenant=tenant,
                summary={"hold": hold.pk},
            )
    return erasure


def _files(storage: Storage, root: str) -> Iterator[str]:
    """Every file under ``root`` (deepest folders first, listed before anything is deleted)."""
    try:
        dirs, files = storage.listdir(root)
    except FileNotFoundError:
        return
    for name in sorted(dirs):
        yield from list(_files(storage, f"{root}/{name}"))
    for name in sorted(files):
        yield f"{root}/{name}"
