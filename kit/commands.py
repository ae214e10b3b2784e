"""What every operator command shares: ``--dry-run``, a progress bar on a terminal (never in a pipe or a log), ``--format table|json|csv`` for the
report, a one-line summary, and exit codes:

* 0 — done (items may have been skipped, with their reason);
* 1 — some items failed: they are listed, the others were done;
* 2 — usage: a bad option or a filter that matches nothing known (nothing was done).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError

from kit.outcomes import BulkOutcome

FORMATS = ("table", "json", "csv")


class OperatorCommand(BaseCommand):
    """The base of every operator command (``tenants.commands.SiteCommand`` adds the tenant and
    site filters)."""

    # Commands that report rows offer --format.
    reports = True
    # Commands that write offer --dry-run.
    writes = True

    def add_arguments(self, parser) -> None:
        if self.writes:
            parser.add_argument(
                "--dry-run", action="store_true", help="Show what would be done; change nothing."
            )
        if self.reports:
            parser.add_argument(
                "--format", choices=FORMATS, default="table", help="Report format (table)."
            )

    def usage_error(self, message: str) -> CommandError:
        """Exit code 2: a bad option or a filter that matches nothing known."""
        return CommandError(message, returncode=2)

    # ------------------------------------------------------------------ output

    @contextmanager
    def progress(self, total: int, unit: str = "item"):
        """Yields ``update(n)``; draws a tqdm bar only when stdout is a terminal."""
        if not self.stdout.isatty():
            yield None
            return
        from tqdm import tqdm

        with tqdm(total=total, unit=unit, dynamic_ncols=True, file=self.stderr._out) as bar:
            yield bar.update

    def write_rows(self, rows: Sequence[dict], options, columns: Sequence[str] | None = None):
        fmt = options.get("format", "table")
        if not rows and fmt == "table":
            return
        columns = list(columns or (rows[0].keys() if rows else []))
        if fmt == "json":
            self.stdout.write(json.dumps(rows, default=str, indent=2))
        elif fmt == "csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            self.stdout.write(buffer.getvalue(), ending="")
        else:
            self.stdout.write(table(rows, columns))

    def finish(self, outcome: BulkOutcome, options, *, show_done: bool = True) -> None:
        """Report the items (all of them, or only the skipped and failed ones), the summary
        line, and fail with exit code 1 when some items failed."""
        rows = outcome.rows() if show_done else [r for r in outcome.rows() if r["result"] != "done"]
        if options.get("format", "table") != "table":
            self.write_rows(outcome.rows(), options, ["item", "result", "reason"])
        else:
            self.write_rows(rows, options, ["item", "result", "reason"])
        prefix = "dry run: " if options.get("dry_run") else ""
        summary = prefix + outcome.summary()
        if outcome.failed:
            raise CommandError(
                f"{summary}. Failed: "
                + "; ".join(f"{item}: {reason}" for item, reason in outcome.failed.items()),
                returncode=1,
            )
        # The summary goes to stderr when stdout carries machine-readable output.
        target = self.stdout if options.get("format", "table") == "table" else self.stderr
        target.write(summary)


def table(rows: Iterable[dict], columns: Sequence[str]) -> str:
    rows = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)
