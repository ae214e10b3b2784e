"""Send the migration invitation to every site still on a legacy credential that was not
invited yet (cases pending, invite expired, or failed and reopened). The invitation itself is
the wizard's campaign service; a second run finds the cases invited and sends nothing."""

from __future__ import annotations

from ops import bulk
from tenants.commands import SiteCommand
from tenants.models import MigrationCase


class Command(SiteCommand):
    help = (
        "Invite customers to re-authorize through the vendor app: every migration case in "
        "state pending, invite_expired or failed (legacy sites only, exempt and completed "
        "cases never). Exit 0 done, 1 some failed (listed), 2 usage."
    )

    def handle(self, *args, **options):
        cases = self.narrow(
            MigrationCase.objects.filter(state__in=bulk.TO_INVITE)
            .select_related("site__tenant", "legacy_credential")
            .order_by("due_at", "pk"),
            options,
            tenant_path="site__tenant",
            site_path="site",
        )
        with self.progress(cases.count(), unit="case") as update:
            outcome = bulk.send_invitations(
                cases.iterator(chunk_size=500),
                acting_user=None,
                dry_run=options["dry_run"],
                progress=update,
            )
        self.finish(outcome, options)
