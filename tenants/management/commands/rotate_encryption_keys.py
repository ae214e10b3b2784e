"""Re-encrypt stored secrets under the first key of FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from collections import Counter

from kit.commands import OperatorCommand
from kit.outcomes import counted
from tenants import crypto
from tenants.services.encryption import count_by_key_id, encryption_rotate_keys


def _format(counts: Counter[str]) -> str:
    return ", ".join(f"{key_id}={n}" for key_id, n in sorted(counts.items())) or "no secrets"


class Command(OperatorCommand):
    help = (
        "Re-encrypt every encrypted secret (OAuth grants, legacy credentials, any model with an "
        "EncryptedSecret) that is not under the first key of FIELD_ENCRYPTION_KEYS. Works in "
        "batches, each its own transaction with its rows locked; safe to run again and while "
        "workers run. Reports the ciphertext count per key id before and after. Exit 0 done, "
        "1 some ciphertext is left on an old key (or one could not be decrypted), 2 usage. "
        "Rotate by prepending a new key, deploying, running this, then removing the old key."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Rows per transaction (default 500)."
        )

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise self.usage_error("--batch-size must be at least 1")
        primary = crypto.primary_key_id()
        if options["dry_run"]:
            counts = count_by_key_id()
            stale = sum(n for key_id, n in counts.items() if key_id != primary)
            self._report(primary, counts, None, {}, options)
            self.summary(
                f"{counted(stale, 'ciphertext would be', 'ciphertexts would be')} re-encrypted "
                f"under {primary}",
                options,
            )
            return
        try:
            report = encryption_rotate_keys(batch_size=options["batch_size"], acting_user=None)
        except crypto.DecryptionError as exc:
            raise self.failure(f"stopped: {exc}") from None
        self._report(primary, report.before, report.after, report.per_model, options)
        if report.left_on_old_keys:
            raise self.failure(
                f"{counted(report.left_on_old_keys, 'ciphertext is', 'ciphertexts are')} still "
                "on an old key; run again"
            )
        self.summary(
            f"{counted(report.rows_reencrypted, 'row')} re-encrypted in "
            f"{counted(report.batches, 'batch', 'batches')}, all secrets under {primary}",
            options,
            style=self.style.SUCCESS,
        )

    def _report(self, primary, before, after, per_model, options) -> None:
        if self.machine_readable(options):
            self.write_rows(
                [
                    {
                        "key_id": key_id,
                        "primary": key_id == primary,
                        "before": before.get(key_id, 0),
                        "after": "" if after is None else after.get(key_id, 0),
                    }
                    for key_id in sorted(set(before) | set(after or {}) | {primary})
                ],
                options,
                ["key_id", "primary", "before", "after"],
            )
            return
        self.stdout.write(f"primary key id: {primary}")
        self.stdout.write(f"before: {_format(before)}")
        if after is not None:
            self.stdout.write(f"after: {_format(after)}")
        for label, rows in per_model.items():
            self.stdout.write(f"  {label}: {counted(rows, 'row')} re-encrypted")
