"""Every site's protection state (``backups.protection.state``: the figures of the dashboard,
the site filter, the tenant page and the customer page), one row per site, then the count per
state. Read-only."""

from __future__ import annotations

from backups.models import SiteProtection
from backups.protection.state import STATES, site_rows
from tenants.commands import SiteCommand
from tenants.models import JiraSite


class Command(SiteCommand):
    help = (
        "Report each site's protection (of --tenant / --site, else all), optionally only "
        "--state S (repeatable): state, why, last successful backup, next run, snapshots, "
        "stored bytes. Read-only; exit 0, or 2 on bad usage."
    )
    writes = False

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--state",
            action="append",
            default=[],
            choices=list(STATES),
            help="Only sites in this state (repeatable).",
        )

    def handle(self, *args, **options):
        sites = self.narrow(
            JiraSite.objects.all(), options, tenant_path="tenant", site_path="pk"
        ).select_related("tenant")
        if options["state"]:
            sites = sites.filter(protection__state__in=options["state"])
        rows = [
            {
                "tenant": r.site.tenant.slug,
                "site": r.site.url,
                "state": r.state,
                "why": r.detail_label or r.reason,
                "last_success": r.last_success_at.isoformat() if r.last_success_at else "",
                "next_run": r.next_run_at.isoformat() if r.next_run_at else "",
                "snapshots": r.snapshots,
                "stored_bytes": r.stored_bytes,
            }
            for r in site_rows(sites=sites)
        ]
        columns = ["tenant", "site", "state", "why", "last_success", "next_run", "snapshots"]
        self.write_rows(rows, options, [*columns, "stored_bytes"])
        per_state = {s: 0 for s in STATES}
        for row in rows:
            per_state[row["state"]] = per_state.get(row["state"], 0) + 1
        summary = f"{len(rows)} sites: " + ", ".join(
            f"{n} {SiteProtection.State(s).label.lower()}" for s, n in per_state.items()
        )
        target = self.stdout if options["format"] == "table" else self.stderr
        target.write(summary)
