"""Put every stored secret under the first key of FIELD_ENCRYPTION_KEYS (re-wrap data keys)."""

from __future__ import annotations

from collections import Counter

from kit.commands import OperatorCommand
from kit.outcomes import counted
from tenants import crypto, keys_wrapping
from tenants.services.encryption import (
    count_by_key_id,
    count_legacy_values,
    data_keys_by_kek_id,
    encryption_rotate_keys,
)


def _format(counts: Counter[str]) -> str:
    return ", ".join(f"{key_id}={n}" for key_id, n in sorted(counts.items())) or "no secrets"


class Command(OperatorCommand):
    help = (
        "Put every encrypted secret (OAuth grants, legacy credentials, any model with an "
        "EncryptedSecret) under the first key of FIELD_ENCRYPTION_KEYS: re-wrap the data keys "
        "in the key store that an older key wraps (rows are not rewritten), re-seal values "
        "still sealed with a key directly (v1) with their row's data key, finish deleting "
        "data keys a purge destroyed, and destroy the data keys of deleted rows and of "
        "transactions that rolled back (older than an hour). Works in batches, each its own "
        "transaction with its rows locked; safe to run again and while workers run. Reports "
        "ciphertexts and data keys per key id before and after. Exit 0 done, 1 something is "
        "left on an old key (or a value could not be decrypted), 2 usage. Rotate by prepending "
        "a new key, deploying, running this, then removing the old key."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Rows per transaction (default 500)."
        )

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise self.usage_error("--batch-size must be at least 1")
        primary = keys_wrapping.primary_key_id()
        if options["dry_run"]:
            counts, data_keys = count_by_key_id(), data_keys_by_kek_id()
            stale = sum(n for key_id, n in data_keys.items() if key_id != primary)
            self._report(primary, counts, None, data_keys, None, {}, options)
            self.summary(
                f"{counted(stale, 'data key would be', 'data keys would be')} re-wrapped and "
                f"{counted(count_legacy_values(), 'value would be', 'values would be')} re-sealed "
                f"under {primary}",
                options,
            )
            return
        try:
            report = encryption_rotate_keys(batch_size=options["batch_size"], acting_user=None)
        except crypto.DecryptionError as exc:
            raise self.failure(f"stopped: {exc}") from None
        self._report(
            primary,
            report.before,
            report.after,
            report.keys_before,
            report.keys_after,
            report.per_model,
            options,
        )
        if not self.machine_readable(options):
            if report.keys_destroyed:
                self.stdout.write(
                    f"  {counted(report.keys_destroyed, 'destroyed data key', 'destroyed data keys')} deleted"
                )
            if report.keys_swept:
                self.stdout.write(
                    f"  {counted(report.keys_swept, 'data key', 'data keys')} of deleted or never-committed "
                    "rows destroyed"
                )
        if report.left_on_old_keys:
            raise self.failure(
                f"{counted(report.left_on_old_keys, 'ciphertext or data key is', 'ciphertexts or data keys are')} "
                "still on an old key; run again"
            )
        self.summary(
            f"{counted(report.keys_rewrapped, 'data key', 'data keys')} re-wrapped and "
            f"{counted(report.rows_reencrypted, 'row')} re-sealed in "
            f"{counted(report.batches, 'batch', 'batches')}, all secrets under {primary}",
            options,
            style=self.style.SUCCESS,
        )

    def _report(self, primary, before, after, keys_before, keys_after, per_model, options) -> None:
        if self.machine_readable(options):
            ids = set(before) | set(after or {}) | set(keys_before) | set(keys_after or {})
            self.write_rows(
                [
                    {
                        "key_id": key_id,
                        "primary": key_id == primary,
                        "ciphertexts_before": before.get(key_id, 0),
                        "ciphertexts_after": "" if after is None else after.get(key_id, 0),
                        "data_keys_before": keys_before.get(key_id, 0),
                        "data_keys_after": "" if keys_after is None else keys_after.get(key_id, 0),
                    }
                    for key_id in sorted(ids | {primary})
                ],
                options,
                [
                    "key_id",
                    "primary",
                    "ciphertexts_before",
                    "ciphertexts_after",
                    "data_keys_before",
                    "data_keys_after",
                ],
            )
            return
        self.stdout.write(f"primary key id: {primary}")
        self.stdout.write(f"before: {_format(before)}")
        self.stdout.write(f"data keys before: {_format(keys_before)}")
        if after is not None:
            self.stdout.write(f"after: {_format(after)}")
            self.stdout.write(f"data keys after: {_format(keys_after)}")
        for label, rows in per_model.items():
            if rows:
                self.stdout.write(f"  {label}: {counted(rows, 'row')} re-sealed with its data key")
