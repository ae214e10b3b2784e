"""Re-encrypt stored secrets under the first key of FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from tenants import crypto
from tenants.services.encryption import count_by_key_id, encryption_rotate_keys


def _format(counts: Counter[str]) -> str:
    return ", ".join(f"{key_id}={n}" for key_id, n in sorted(counts.items())) or "no secrets"


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted secret (OAuth grants, legacy credentials, any model with an "
        "EncryptedSecret) that is not under the first key of FIELD_ENCRYPTION_KEYS. Works in "
        "batches, each its own transaction with its rows locked; safe to run again and while "
        "workers run. Prints the ciphertext count per key id before and after. Exit status 1 if "
        "any ciphertext is left on an old key. Rotate by prepending a new key, deploying, running "
        "this, then removing the old key."
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
            counts = count_by_key_id()
            self.stdout.write(f"before: {_format(counts)}")
            stale = sum(n for key_id, n in counts.items() if key_id != primary)
            self.stdout.write(f"dry run: {stale} ciphertexts would be re-encrypted")
            return
        try:
            report = encryption_rotate_keys(batch_size=batch_size, acting_user=None)
        except crypto.DecryptionError as exc:
            raise CommandError(f"stopped: {exc}") from None
        self.stdout.write(f"before: {_format(report.before)}")
        self.stdout.write(f"after: {_format(report.after)}")
        for label, rows in report.per_model.items():
            self.stdout.write(f"  {label}: {rows} rows re-encrypted")
        if report.left_on_old_keys:
            raise CommandError(
                f"{report.left_on_old_keys} ciphertexts are still on an old key; run again"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"done: {report.rows_reencrypted} rows re-encrypted in {report.batches} batches, "
                f"all secrets under {primary}"
            )
        )
