from django.core.management.base import BaseCommand, CommandError

from atlassian.services import call_stats_prune, retention_days


class Command(BaseCommand):
    help = (
        "Delete outbound-call ledger rows (atlassian.CallStat) older than N days "
        "(default: ATLASSIAN_LEDGER_RETENTION_DAYS, 400)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="keep this many days")
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args, days=None, dry_run=False, **options):
        days = retention_days() if days is None else days
        try:
            count = call_stats_prune(older_than_days=days, dry_run=dry_run)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(f"{verb} {count} ledger rows older than {days} days")
