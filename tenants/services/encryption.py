"""Re-encrypting stored secrets under the current primary key (key rotation)."""

from __future__ import annotations

import logging
import operator
from collections import Counter
from dataclasses import dataclass, field
from functools import reduce

from django.apps import apps
from django.db import models, transaction
from django.db.models import Q

from tenants import crypto
from tenants.audit import record_event
from tenants.fields import EncryptedSecret, encrypted_secrets
from tenants.models import User

logger = logging.getLogger(__name__)


def secret_bearing_models() -> list[tuple[type[models.Model], dict[str, EncryptedSecret]]]:
    """Every installed model that declares an ``EncryptedSecret`` (any app, not only tenants)."""
    found = []
    for model in apps.get_models():
        secrets = encrypted_secrets(model)
        if secrets:
            found.append((model, secrets))
    return found


def count_by_key_id() -> Counter[str]:
    """How many stored ciphertexts each key id encrypts (unparseable ones under "invalid")."""
    counts: Counter[str] = Counter()
    for model, secrets in secret_bearing_models():
        columns = [s.column for s in secrets.values()]
        for row in model._base_manager.values_list(*columns).iterator():
            for token in row:
                if not token:
                    continue
                try:
                    counts[crypto.key_id_of(token)] += 1
                except crypto.DecryptionError:
                    counts["invalid"] += 1
    return counts


@dataclass
class RotationReport:
    primary_key_id: str
    before: Counter[str]
    after: Counter[str]
    rows_reencrypted: int = 0
    batches: int = 0
    per_model: dict[str, int] = field(default_factory=dict)

    @property
    def left_on_old_keys(self) -> int:
        return sum(n for key_id, n in self.after.items() if key_id != self.primary_key_id)


def encryption_rotate_keys(
    *, batch_size: int = 500, dry_run: bool = False, acting_user: User | None = None
) -> RotationReport:
    """Re-encrypt every secret not yet under the primary key, in batches: each batch is its own
    transaction and locks its rows (``select_for_update``) so a concurrent token refresh either
    waits or has already written under the new key. Running it again finds nothing to do."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    primary = crypto.primary_key_id()
    before = count_by_key_id()
    report = RotationReport(primary_key_id=primary, before=before, after=before)
    if dry_run:
        return report
    prefix = f"{crypto.VERSION}:{primary}:"
    for model, secrets in secret_bearing_models():
        columns = [s.column for s in secrets.values()]
        stale = reduce(
            operator.or_,
            [Q(**{f"{c}__isnull": False}) & ~Q(**{f"{c}__startswith": prefix}) for c in columns],
        )
        last_pk = None
        done = 0
        while True:
            with transaction.atomic():
                query = model._base_manager.select_for_update().filter(stale).order_by("pk")
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
    report.after = count_by_key_id()
    with transaction.atomic():
        record_event(
            actor=acting_user,
            action="encryption.keys_rotated",
            target=None,
            summary={
                "primary_key_id": primary,
                "before": dict(before),
                "after": dict(report.after),
                "rows_reencrypted": report.rows_reencrypted,
            },
        )
    logger.info(
        "re-encrypted %d rows under key %s in %d batches",
        report.rows_reencrypted,
        primary,
        report.batches,
    )
    return report
