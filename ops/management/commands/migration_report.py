"""Where every case of the consent campaigns stands (legacy sites moving to the vendor app, and
sites consenting again for Jira Software's scopes): one row per case, then the count per state.
Read-only."""

from __future__ import annotations

from django.db.models import Count, Max
from django.utils import timezone

from kit.commands import moment
from kit.outcomes import counted
from tenants.commands import SiteCommand
from tenants.models import MigrationCase


class Command(SiteCommand):
    help = (
        "Report the migration and re-consent cases (of --tenant / --site, else all), optionally "
        "only --purpose P, --state S (repeatable) or --overdue. Read-only; exit 0, or 2 on bad "
        "usage."
    )
    writes = False

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--state",
            action="append",
            default=[],
            choices=MigrationCase.State.values,
            help="Only cases in this state (repeatable).",
        )
        parser.add_argument(
            "--purpose",
            choices=MigrationCase.Purpose.values,
            help="Only migrations, or only re-consents for Jira Software's scopes.",
        )
        parser.add_argument(
            "--overdue", action="store_true", help="Only open cases past their due date."
        )

    def handle(self, *args, **options):
        now = timezone.now()
        cases = self.narrow(
            MigrationCase.objects.select_related("site__tenant").order_by("due_at", "pk"),
            options,
            tenant_path="site__tenant",
            site_path="site",
        )
        if options["purpose"]:
            cases = cases.filter(purpose=options["purpose"])
        if options["state"]:
            cases = cases.filter(state__in=options["state"])
        if options["overdue"]:
            cases = cases.filter(due_at__lt=now).exclude(
                state__in=[MigrationCase.State.COMPLETED, MigrationCase.State.EXEMPT]
            )
        cases = cases.annotate(notice_count=Count("notices"), last_notice=Max("notices__sent_at"))
        rows = [
            {
                "tenant": case.site.tenant.slug,
                "site": case.site.url,
                "purpose": case.purpose,
                "state": case.state,
                "due_at": moment(case.due_at),
                "overdue_days": max(0, (now - case.due_at).days) if case.due_at else "",
                "notices": case.notice_count,
                "last_notice": moment(case.last_notice),
                "opened_at": moment(case.opened_at),
                "reason": case.failure_reason,
            }
            for case in cases.iterator(chunk_size=1000)
        ]
        self.write_rows(
            rows,
            options,
            [
                "tenant",
                "site",
                "purpose",
                "state",
                "due_at",
                "overdue_days",
                "notices",
                "last_notice",
                "opened_at",
                "reason",
            ],
        )
        per_state: dict[str, int] = {}
        for row in rows:
            per_state[row["state"]] = per_state.get(row["state"], 0) + 1
        self.summary(
            f"{counted(len(rows), 'case')}: "
            + (", ".join(f"{n} {state}" for state, n in sorted(per_state.items())) or "none"),
            options,
        )
