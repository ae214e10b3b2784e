"""Put every stored secret under the first key of FIELD_ENCRYPTION_KEYS (re-wrap data keys)."""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from tenants import crypto
from tenants.services.encryption import (
    count_by_key_id,
    count_legacy_values,
    data_keys_by_kek_id,
    encryption_rotate_keys,
)


def _format(counts: Counter[str]) -> str:
    return ", ".join(f"{key_id}={n}" for key_id, n in sorted(counts.items())) or "no secrets"


class Command(BaseCommand):
    help = (
        "Put every encrypted secret (OAuth grants, legacy credentials, any model with an "
        "EncryptedSecret) under the first key of FIELD_ENCRYPTION_KEYS: re-wrap the data keys "
        "in the key store that an older key wraps (rows are not rewritten), re-seal values "
        "still sealed with a key directly (v1) with their row's data key, finish deleting "
        "data keys a purge destroyed, and destroy the data keys of deleted rows and of "
        "transactions that rolled back (older than an hour); run it daily too. Works in "
        "batches, each its own transaction with its rows locked; safe to run again and while "
        "workers run. Prints the count of ciphertexts and data keys per key id before and "
        "after. Exit status 1 if anything is left on an old key. Rotate by prepending a new "
        "key, deploying, running this, then removing the old key."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=500, help="rows per transaction (default 500)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="only count ciphertexts per key id"
        )

    def handle(self, *args, batch_size: int, dry_run: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        primary = crypto.primary_key_id()
        self.stdout.write(f"primary key id: {primary}")
        if dry_run:
            counts, data_keys = count_by_key_id(), data_keys_by_kek_id()
            self.stdout.write(f"before: {_format(counts)}")
            self.stdout.write(f"data keys before: {_format(data_keys)}")
            stale = sum(n for key_id, n in data_keys.items() if key_id != primary)
            self.stdout.write(
                f"dry run: {stale} data keys would be re-wrapped, "
                f"{count_legacy_values()} values would be re-sealed"
            )
            return
        try:
            report = encryption_rotate_keys(batch_size=batch_size, acting_user=None)
        except crypto.DecryptionError as exc:
            raise CommandError(f"stopped: {exc}") from None
        self.stdout.write(f"before: {_format(report.before)}")
        self.stdout.write(f"after: {_format(report.after)}")
        self.stdout.write(f"data keys before: {_format(report.keys_before)}")
        self.stdout.write(f"data keys after: {_format(report.keys_after)}")
        for label, rows in report.per_model.items():
            if rows:
                self.stdout.write(f"  {label}: {rows} rows re-sealed with their data key")
        if report.keys_destroyed:
            self.stdout.write(f"  {report.keys_destroyed} destroyed data keys deleted")
        if report.keys_swept:
            self.stdout.write(
                f"  {report.keys_swept} data keys of deleted or never-committed rows destroyed"
            )
        if report.left_on_old_keys:
            raise CommandError(
                f"{report.left_on_old_keys} ciphertexts or data keys are still on an old key; "
                "run again"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"done: {report.keys_rewrapped} data keys re-wrapped and "
                f"{report.rows_reencrypted} rows re-sealed in {report.batches} batches, "
                f"all secrets under {primary}"
            )
        )
