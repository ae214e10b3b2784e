"""manage.py import_legacy_customers FILE [--format csv|json] [--dry-run]"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tenants.importer import ImportFileError, import_legacy_file


class Command(BaseCommand):
    help = (
        "Import the legacy book: customers still on an API token or their own OAuth app (CSV or "
        "JSON; columns in tenants/importer.py and docs/migration-wizard.md). Creates or updates "
        "each tenant, site and legacy credential (secrets encrypted; refused after "
        "LEGACY_CUTOFF) and opens a migration case per site. Re-importing updates, never "
        "duplicates. Bad rows are reported by line and left out whole. Exit status: 0 all rows "
        "imported, 2 some rows were bad, 1 the file could not be read."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the CSV or JSON file")
        parser.add_argument(
            "--format", choices=["csv", "json"], help="override the format from the extension"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change; write nothing"
        )

    def handle(self, *args, **opts):
        path = Path(opts["file"])
        if not path.exists():
            raise CommandError(f"{path}: no such file")
        interactive = sys.stdout.isatty() and opts["verbosity"] >= 1

        def progress(done: int, total: int) -> None:
            if interactive:
                self.stdout.write(f"\r{done}/{total} rows", ending="")
                self.stdout.flush()

        try:
            report = import_legacy_file(
                path, fmt=opts["format"], dry_run=opts["dry_run"], progress=progress
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        if interactive:
            self.stdout.write("")
        for error in report.errors:
            self.stderr.write(f"{path.name}: {error}")
        for line in report.already_migrated:
            self.stdout.write(f"{path.name}: line {line}: already on the vendor app, left alone")
        self.stdout.write(report.summary())
        if report.errors:
            sys.exit(2)
