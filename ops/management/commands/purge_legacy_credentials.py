"""Crypto-shred legacy credentials once their site runs on the vendor app.

Only credentials verified as migrated are purged: no site uses them any more and their
migration case cut over (or completed). Any other credential is purged only when named with
``--confirm ID`` (an explicit decision, e.g. a customer who left). Purging is irreversible."""

from __future__ import annotations

import uuid

from ops import bulk
from tenants.commands import SiteCommand
from tenants.models import LegacyCredential


class Command(SiteCommand):
    help = (
        "Purge (crypto-shred) legacy credentials verified as migrated, plus those named with "
        "--confirm. Exit 0 done, 1 some failed (listed), 2 usage."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--confirm",
            nargs="+",
            default=[],
            metavar="ID",
            help="Also purge these credentials (ids) even if not verified as migrated.",
        )
        parser.add_argument(
            "--reason", default="migration verified", help="Recorded in the audit log."
        )

    def handle(self, *args, **options):
        confirmed = options["confirm"]
        if confirmed:
            known = {
                str(pk)
                for pk in LegacyCredential.objects.filter(
                    pk__in=self._uuids(confirmed)
                ).values_list("pk", flat=True)
            }
            unknown = sorted(set(confirmed) - known)
            if unknown:
                raise self.usage_error(f"unknown credential: {', '.join(unknown)}")
        if not options["reason"].strip():
            raise self.usage_error("--reason cannot be empty")
        credentials = self.narrow(
            LegacyCredential.objects.exclude(status=LegacyCredential.Status.PURGED)
            .select_related("tenant")
            .order_by("created_at"),
            options,
            tenant_path="tenant",
            site_path="migration_cases__site",
        )
        with self.progress(credentials.count(), unit="credential") as update:
            outcome = bulk.purge_legacy_credentials(
                credentials,
                reason=options["reason"].strip(),
                acting_user=None,
                confirmed=confirmed,
                dry_run=options["dry_run"],
                progress=update,
            )
        self.finish(outcome, options)

    def _uuids(self, values: list[str]) -> list[uuid.UUID]:
        valid = []
        for value in values:
            try:
                valid.append(uuid.UUID(value))
            except ValueError:
                raise self.usage_error(f"not a credential id: {value}") from None
        return valid
