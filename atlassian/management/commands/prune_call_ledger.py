"""Delete the outbound call ledger's old hours (``atlassian.services.call_stats_prune``); beat
does it daily, this is for an operator who wants it now or with another window."""

from __future__ import annotations

from atlassian.services import call_stats_prune, retention_days
from kit.commands import OperatorCommand
from kit.outcomes import counted


class Command(OperatorCommand):
    help = (
        "Delete outbound-call ledger rows (atlassian.CallStat) older than --days N (default: "
        "ATLASSIAN_LEDGER_RETENTION_DAYS, 400). Exit 0 done, 2 usage."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--days", type=int, default=None, help="Keep this many days.")

    def handle(self, *args, **options):
        days = retention_days() if options["days"] is None else options["days"]
        if days < 1:
            raise self.usage_error(f"--days must be at least 1, not {days}")
        count = call_stats_prune(older_than_days=days, dry_run=options["dry_run"])
        verb = "would be deleted" if options["dry_run"] else "deleted"
        if self.machine_readable(options):  # a table of one row would repeat the summary
            self.write_rows([{"older_than_days": days, "rows": count, "result": verb}], options)
        self.summary(
            f"{counted(count, f'ledger row {verb}', f'ledger rows {verb}')}"
            f" (older than {days} days)",
            options,
        )
