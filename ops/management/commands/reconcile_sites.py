"""Compare what each vendor grant reaches (Atlassian's accessible-resources) with the database:
sites a grant no longer reaches are marked disconnected, with a reason support can read
(``tenants.upkeep.reconcile_grant_sites``). Each such site is listed, and the exit code is 1."""

from __future__ import annotations

from ops import bulk
from tenants.commands import SiteCommand
from tenants.models import OAuthGrant


class Command(SiteCommand):
    help = (
        "Reconcile sites against accessible-resources for the active vendor grants (of "
        "--tenant / --site, else all). Exit 0 all match, 1 some sites were lost or a grant "
        "could not be checked (listed), 2 usage."
    )

    def handle(self, *args, **options):
        grants = self.narrow(
            OAuthGrant.objects.filter(status=OAuthGrant.Status.ACTIVE).order_by("pk"),
            options,
            tenant_path="grant_sites__site__tenant",
            site_path="grant_sites__site",
        ).distinct()
        with self.progress(grants.count(), unit="grant") as update:
            outcome = bulk.reconcile_grants(grants, dry_run=options["dry_run"], progress=update)
        self.finish(outcome, options)
