"""Key rotation: every stored secret ends up sealed with a data key that the current
key-encryption key (the first of ``FIELD_ENCRYPTION_KEYS``) wraps.

Rotating the key-encryption key re-wraps data keys in the key store; rows are rewritten only
when they still hold a ``v1`` value (sealed with a key-encryption key directly, from before data
keys), which is re-sealed with the row's data key."""

from __future__ import annotations

import logging
import operator
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from functools import reduce

from django.apps import apps
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from tenants import crypto, keys, keys_wrapping
from tenants.audit import record_event
from tenants.fields import EncryptedSecret, encrypted_secrets
from tenants.models import DataKey, User

logger = logging.getLogger(__name__)

LIVE_KEY_STATES = [DataKey.State.ACTIVE, DataKey.State.RETIRED]


def secret_bearing_models() -> list[tuple[type[models.Model], dict[str, EncryptedSecret]]]:
    """Every installed model that declares an ``EncryptedSecret`` (any app, not only tenants)."""
    found = []
    for model in apps.get_models():
        secrets = encrypted_secrets(model)
        if secrets:
            found.append((model, secrets))
    return found


def count_by_key_id() -> Counter[str]:
    """How many stored ciphertexts each key-encryption key protects: a ``v1`` value directly, a
    ``v2`` value through its data key. Unparseable values count under "invalid", values whose
    data key is not live under "no data key"."""
    kek_of = {
        key_id.hex: kek_id
        for key_id, kek_id in DataKey.objects.filter(state__in=LIVE_KEY_STATES).values_list(
            "id", "kek_id"
        )
    }
    counts: Counter[str] = Counter()
    for model, secrets in secret_bearing_models():
        columns = [s.column for s in secrets.values()]
        for row in model._base_manager.values_list(*columns).iterator():
            for token in row:
                if not token:
                    continue
                try:
                    version, key_id = crypto.parse(token)
                except crypto.DecryptionError:
                    counts["invalid"] += 1
                    continue
                if version == crypto.LEGACY_VERSION:
                    counts[key_id] += 1
                else:
                    counts[kek_of.get(key_id, "no data key")] += 1
    return counts


def count_legacy_values() -> int:
    """How many stored values are still ``v1`` (sealed with a key-encryption key directly)."""
    prefix = f"{crypto.LEGACY_VERSION}:"
    return sum(
        model._base_manager.filter(**{f"{s.column}__startswith": prefix}).count()
        for model, secrets in secret_bearing_models()
        for s in secrets.values()
    )


def data_keys_by_kek_id() -> Counter[str]:
    """How many live data keys each key-encryption key wraps."""
    return Counter(
        dict(
            DataKey.objects.filter(state__in=LIVE_KEY_STATES)
            .values_list("kek_id")
            .annotate(n=models.Count("id"))
            .values_list("kek_id", "n")
        )
    )


# A key younger than this may belong to a transaction still writing: the sweep leaves it alone.
ORPHAN_GRACE = timedelta(hours=1)


def encryption_sweep_data_keys(*, grace: timedelta = ORPHAN_GRACE) -> tuple[int, int]:
    """Destroy the data keys nothing can need any more, so the old row versions they sealed
    become undecryptable too: keys of secret-bearing rows that were deleted (e.g. a pending
    connection, gone after ten minutes), and stored keys whose registry row never committed (the
    transaction that sealed a value rolled back, e.g. a refused import row). Returns
    ``(keys of deleted rows, orphaned keys)``."""
    cutoff = timezone.now() - grace
    of_deleted_rows = 0
    for model, _ in secret_bearing_models():
        prefix = f"secrets/{model._meta.label.lower()}/"
        scopes = set(
            DataKey.objects.filter(
                scope__startswith=prefix, state__in=LIVE_KEY_STATES, created_at__lt=cutoff
            ).values_list("scope", flat=True)
        )
        pks = {scope.removeprefix(prefix) for scope in scopes}
        alive = {
            str(pk) for pk in model._base_manager.filter(pk__in=pks).values_list("pk", flat=True)
        }
        for pk in sorted(pks - alive):
            with transaction.atomic():
                of_deleted_rows += len(keys.destroy_scope(prefix + pk))
    keys.finish_destruction()  # before the walk, so that those count as destroyed, not orphaned
    live = {
        key_id.hex
        for key_id in DataKey.objects.filter(state__in=LIVE_KEY_STATES).values_list("id", flat=True)
    }
    orphaned = 0
    for scope, key_id in keys.stored_keys("secrets"):
        if key_id in live:
            continue
        written = keys.last_written(scope, key_id)
        if written is not None and written < cutoff and keys.delete_stored(scope, key_id):
            orphaned += 1
    if orphaned:
        with transaction.atomic():
            record_event(
                actor=None,
                action="data_keys.orphans_deleted",
                target=None,
                summary={"orphaned_keys": orphaned},
            )
    return of_deleted_rows, orphaned


@dataclass
class RotationReport:
    primary_key_id: str
    before: Counter[str]
    after: Counter[str]
    keys_before: Counter[str] = field(default_factory=Counter)
    keys_after: Counter[str] = field(default_factory=Counter)
    rows_reencrypted: int = 0
    keys_rewrapped: int = 0
    keys_destroyed: int = 0
    keys_swept: int = 0
    batches: int = 0
    per_model: dict[str, int] = field(default_factory=dict)

    @property
    def left_on_old_keys(self) -> int:
        """Ciphertexts and data keys not (yet) under the primary key-encryption key."""
        stale_rows = sum(n for k, n in self.after.items() if k != self.primary_key_id)
        stale_keys = sum(
            n
            for k, n in self.keys_after.items()
            if k != self.primary_key_id and not keys_wrapping.is_customer_kek(k)
        )
        return stale_rows + stale_keys


def _reseal_legacy_rows(report: RotationReport, batch_size: int) -> None:
    """Re-seal ``v1`` values with their row's data key, in batches: each batch is its own
    transaction and locks its rows (``select_for_update``) so a concurrent token refresh either
    waits or has already written a ``v2`` value."""
    prefix = f"{crypto.LEGACY_VERSION}:"
    for model, secrets in secret_bearing_models():
        columns = [s.column for s in secrets.values()]
        legacy = reduce(operator.or_, [Q(**{f"{c}__startswith": prefix}) for c in columns])
        last_pk = None
        done = 0
        while True:
            with transaction.atomic():
                query = model._base_manager.select_for_update().filter(legacy).order_by("pk")
                if last_pk is not None:
                    # Keyset paging: always progress, even past a row someone rewrote meanwhile.
                    query = query.filter(pk__gt=last_pk)
                batch = list(query[:batch_size])
                if not batch:
                    break
                for row in batch:
                    changed = [s.column for s in secrets.values() if s.reencrypt(row)]
                    if changed:
                        row.save(update_fields=changed)
                        done += 1
                last_pk = batch[-1].pk
            report.batches += 1
        report.per_model[model._meta.label] = done
        report.rows_reencrypted += done


def _rewrap_data_keys(report: RotationReport, batch_size: int) -> None:
    """Wrap every live data key with the primary key-encryption key. Per batch: the registry
    rows are locked (a purge destroying one of them waits), the new wrapped copies are written,
    the registry commits, and only then are the old copies deleted, so a reader finds one at
    every moment. Interrupted, it resumes from the registry."""
    primary = report.primary_key_id
    while True:
        dropped = []
        with transaction.atomic():
            batch = list(
                DataKey.objects.select_for_update()
                .filter(state__in=LIVE_KEY_STATES)
                .exclude(kek_id=primary)
                # A tenant's own KMS key wraps its key: the customer rotates that one in KMS.
                .exclude(kek_id__startswith=keys_wrapping.CUSTOMER_KEK_PREFIX)
                .order_by("created_at", "pk")[:batch_size]
            )
            if not batch:
                break
            for record in batch:
                new_kek = keys.rewrap(record.scope, record.id.hex, kek_id=record.kek_id)
                if new_kek == record.kek_id:
                    continue  # already under the key that wraps it: its one copy stays
                dropped.append((record.scope, record.id.hex, record.kek_id))
                record.kek_id, record.rewrapped_at = new_kek, timezone.now()
                record.save(update_fields=["kek_id", "rewrapped_at"])
        for scope, key_id, old_kek in dropped:
            keys.drop_wrapped(scope, key_id, kek_id=old_kek)
        report.keys_rewrapped += len(batch)
        report.batches += 1


def encryption_rotate_keys(
    *, batch_size: int = 500, dry_run: bool = False, acting_user: User | None = None
) -> RotationReport:
    """Put every secret under the primary key-encryption key: finish any data-key destruction
    a purge left pending, sweep keys nothing needs (``encryption_sweep_data_keys``), re-seal
    ``v1`` rows with their data keys, and re-wrap data keys still under an older
    key-encryption key. Safe while workers run and to run again (it then finds
    nothing to do)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    primary = keys_wrapping.primary_key_id()
    before = count_by_key_id()
    keys_before = data_keys_by_kek_id()
    report = RotationReport(
        primary_key_id=primary,
        before=before,
        after=before,
        keys_before=keys_before,
        keys_after=keys_before,
    )
    if dry_run:
        return report
    report.keys_destroyed = len(keys.finish_destruction())
    report.keys_swept = sum(encryption_sweep_data_keys())
    _reseal_legacy_rows(report, batch_size)
    _rewrap_data_keys(report, batch_size)
    report.after = count_by_key_id()
    report.keys_after = data_keys_by_kek_id()
    with transaction.atomic():
        record_event(
            actor=acting_user,
            action="encryption.keys_rotated",
            target=None,
            summary={
                "primary_key_id": primary,
                "before": dict(before),
                "after": dict(report.after),
                "data_keys_before": dict(keys_before),
                "data_keys_after": dict(report.keys_after),
                "rows_reencrypted": report.rows_reencrypted,
                "data_keys_rewrapped": report.keys_rewrapped,
            },
        )
    logger.info(
        "re-sealed %d rows and re-wrapped %d data keys under key %s in %d batches",
        report.rows_reencrypted,
        report.keys_rewrapped,
        primary,
        report.batches,
    )
    return report
