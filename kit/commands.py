"""The convention every management command of the project follows (``OperatorCommand``;
``tenants.commands.SiteCommand`` adds ``--tenant``/``--site``):

* ``--format table|json|csv``: the report goes to stdout in that format; with json or csv the
  one-line summary (and any progress) goes to stderr, so stdout stays machine readable;
* ``--dry-run`` on every command that writes: the same checks, the same report, nothing
  written, nothing sent, and the summary says what *would* happen ("dry run: ..."), never
  "done";
* a progress bar on a terminal only (never in a pipe or a log);
* exit codes:

  * 0 — done (items may have been skipped, with their reason);
  * 1 — some items failed: they are listed, the others were done;
  * 2 — usage: a bad option, or an object that does not exist (unknown tenant, site,
    snapshot, file...); nothing was done.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager, redirect_stdout
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from kit.outcomes import BulkOutcome

FORMATS = ("table", "json", "csv")
T = TypeVar("T")


class OperatorCommand(BaseCommand):
    """The base of every management command (``tenants.commands.SiteCommand`` adds the tenant
    and site filters). Set ``writes = False`` on a read-only command (it gets no --dry-run)."""

    writes = True

    def add_arguments(self, parser) -> None:
        if self.writes:
            parser.add_argument(
                "--dry-run",
                action="store_true",
                help="Check and report what would be done; write and send nothing.",
            )
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default="table",
            help="Report format: table (default), json or csv; with json/csv the summary "
            "goes to stderr.",
        )

    def execute(self, *args, **options):
        # stdout carries the report and nothing else: whatever else prints to sys.stdout while
        # the command runs (the console e-mail backend of development, a stray print) goes to
        # stderr, so `--format json` stays valid JSON and e-mail bodies stay out of the report.
        options["stdout"] = options.get("stdout") or sys.stdout
        with redirect_stdout(sys.stderr):
            return super().execute(*args, **options)

    # ------------------------------------------------------------------ exit codes

    def usage_error(self, message: str) -> CommandError:
        """Exit code 2: a bad option, or an object that does not exist (nothing was done)."""
        return CommandError(message, returncode=2)

    def failure(self, message: str) -> CommandError:
        """Exit code 1: the command ran, and some (or all) of its work failed."""
        return CommandError(message, returncode=1)

    def find(self, lookup: Callable[[str], T], reference: str, what: str) -> T:
        """``lookup(reference)``, or exit 2 naming the unknown object."""
        try:
            return lookup(reference)
        except (ObjectDoesNotExist, ValueError) as exc:
            raise self.usage_error(str(exc) or f"unknown {what}: {reference}") from None

    # ------------------------------------------------------------------ output

    def machine_readable(self, options) -> bool:
        return options.get("format", "table") != "table"

    def summary(self, text: str, options, *, style: Callable[[str], str] | None = None) -> None:
        """The one-line summary: stdout under a table, stderr when stdout is json or csv.
        A dry run's summary says so."""
        if options.get("dry_run") and not text.startswith("dry run"):
            text = f"dry run: {text}"
        if self.machine_readable(options):
            self.stderr.write(text, style_func=lambda s: s)
        else:
            self.stdout.write(style(text) if style else text)

    @contextmanager
    def progress(self, total: int, unit: str = "item"):
        """Yields ``update(n)``; draws a tqdm bar (on stderr) only when stdout is a terminal."""
        if not self.stdout.isatty():
            yield None
            return
        from tqdm import tqdm

        with tqdm(total=total, unit=unit, dynamic_ncols=True, file=self.stderr._out) as bar:
            yield bar.update

    def write_rows(self, rows: Sequence[dict], options, columns: Sequence[str] | None = None):
        """The report: every row in json/csv (an empty list is still valid JSON); a table
        only when there is something to show."""
        fmt = options.get("format", "table")
        columns = list(columns or (rows[0].keys() if rows else []))
        if fmt == "json":
            self.stdout.write(json.dumps(list(rows), default=str, indent=2))
        elif fmt == "csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(
                buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore"
            )
            writer.writeheader()
            writer.writerows(rows)
            self.stdout.write(buffer.getvalue(), ending="")
        elif rows:
            self.stdout.write(table(rows, columns))

    def write_document(self, document: Any, options) -> None:
        """A report that is one JSON document rather than rows (json format only)."""
        self.stdout.write(json.dumps(document, default=str, indent=2))

    def finish(self, outcome: BulkOutcome, options) -> None:
        """Report the items (in a table only the skipped and failed ones, unless ``-v 2``;
        in json/csv all of them), the summary line, and exit 1 when some items failed."""
        rows = outcome.rows()
        if not self.machine_readable(options) and options.get("verbosity", 1) < 2:
            rows = [row for row in rows if row["result"] != "done"]
        if options.get("dry_run"):  # nothing was done
            rows = [
                {**row, "result": "would be done"} if row["result"] == "done" else row
                for row in rows
            ]
        self.write_rows(rows, options, ["item", "result", "reason"])
        if outcome.failed:
            raise self.failure(
                ("dry run: " if options.get("dry_run") else "")
                + f"{outcome.summary()}. Failed: "
                + "; ".join(f"{item}: {reason}" for item, reason in outcome.failed.items())
            )
        self.summary(outcome.summary(), options)


@contextmanager
def rolled_back():
    """Run real services and undo everything they wrote: the transaction is rolled back and
    their on-commit side effects (e-mails, queued tasks) never happen. The dry run of a service
    that has no dry-run mode of its own, with all of its checks.

    Only for services whose effects outside the database wait for the commit. Anything that
    must outlive the rollback (a refresh token Atlassian rotated meanwhile) is the caller's to
    keep: see ``restore_snapshot``."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def moment(value: datetime | None) -> str:
    """A date-time in reports: UTC to the minute, as the admin shows it ("" for none)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else ""


def table(rows: Iterable[dict], columns: Sequence[str]) -> str:
    rows = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line.rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(out)
