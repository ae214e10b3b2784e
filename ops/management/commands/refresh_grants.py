"""Refresh vendor grants now (each under its row lock, through ``tenants.tokens``): after an
incident, or to prove a grant still works. A grant Atlassian refuses becomes needs_reauth."""

from __future__ import annotations

from ops import bulk
from tenants.commands import SiteCommand
from tenants.models import OAuthGrant


class Command(SiteCommand):
    help = (
        "Refresh the active vendor grants (of --tenant / --site, else all). "
        "Exit 0 done, 1 some failed (listed), 2 usage."
    )

    def handle(self, *args, **options):
        grants = self.narrow(
            OAuthGrant.objects.filter(status=OAuthGrant.Status.ACTIVE).order_by("pk"),
            options,
            tenant_path="grant_sites__site__tenant",
            site_path="grant_sites__site",
        ).distinct()
        with self.progress(grants.count(), unit="grant") as update:
            outcome = bulk.refresh_grants(grants, dry_run=options["dry_run"], progress=update)
        self.finish(outcome, options)
