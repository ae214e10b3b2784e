"""manage.py import_legacy_customers FILE [--file-format csv|json] [--dry-run]"""

from __future__ import annotations

from pathlib import Path

from kit.commands import OperatorCommand
from tenants.importer import ImportFileError, import_legacy_file


class Command(OperatorCommand):
    help = (
        "Import the legacy book: customers still on an API token or their own OAuth app (CSV or "
        "JSON; columns in tenants/importer.py and docs/migration-wizard.md). Creates or updates "
        "each tenant, site and legacy credential (secrets encrypted; refused after "
        "LEGACY_CUTOFF) and opens a migration case per site. Re-importing updates, never "
        "duplicates. Bad rows are reported by line and left out whole. Exit 0 all rows "
        "imported, 1 some rows were bad (listed), 2 usage or the file is missing or unreadable."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("file", help="Path of the CSV or JSON file.")
        parser.add_argument(
            "--file-format",
            choices=["csv", "json"],
            help="The file's format, when its extension does not say.",
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise self.usage_error(f"{path}: no such file")
        interactive = self.stdout.isatty() and options["verbosity"] >= 1

        def progress(done: int, total: int) -> None:
            if interactive:
                self.stderr.write(f"\r{done}/{total} rows", ending="", style_func=lambda s: s)
                self.stderr.flush()

        try:
            report = import_legacy_file(
                path, fmt=options["file_format"], dry_run=options["dry_run"], progress=progress
            )
        except ImportFileError as exc:
            raise self.usage_error(str(exc)) from None
        if interactive:
            self.stderr.write("")
        rows: list[dict] = [
            {"line": line, "result": "left alone", "reason": "already on the vendor app"}
            for line in report.already_migrated
        ]
        rows += [{"line": e.line, "result": "bad", "reason": e.message} for e in report.errors]
        self.write_rows(rows, options, ["line", "result", "reason"])
        if report.errors:
            raise self.failure(f"{path.name}: {report.summary()}")
        self.summary(report.summary(), options)
