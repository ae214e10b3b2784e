"""Send the reminders the campaign cadence calls for now (``migration_reminders_due``: days
before the due date, then weekly while past due) to customers who were invited but have not
finished. Each reminder is claimed once per case and cadence point, so a second run sends
nothing."""

from __future__ import annotations

from ops import bulk
from tenants.commands import SiteCommand
from tenants.services.campaigns import migration_reminders_due


class Command(SiteCommand):
    help = (
        "Send the re-authorization reminders that are due (cases waiting for the customer, per "
        "the reminder cadence). Exit 0 done, 1 some failed (listed), 2 usage."
    )

    def handle(self, *args, **options):
        tenants = {t.pk for t in self.tenants(options)}
        sites = {s.pk for s in self.sites(options)}
        due = [
            (case, key)
            for case, key in migration_reminders_due()
            if (not tenants or case.site.tenant_id in tenants)
            and (not sites or case.site_id in sites)
        ]
        with self.progress(len(due), unit="case") as update:
            outcome = bulk.send_reminders(
                due, acting_user=None, dry_run=options["dry_run"], progress=update
            )
        self.finish(outcome, options)
