"""The re-consent campaign: invite the customers of every active site whose vendor grant lacks
Jira Software's scopes (boards, sprints, rank) to consent again. Each site gets its re-consent
case and the case its invitation, as in the migration campaign; a second run finds the cases
invited and sends nothing (the reminders follow with ``send_reauth_reminders``)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ops import bulk
from tenants.commands import SiteCommand
from tenants.models import JiraSite
from tenants.selectors import sites_needing_reconsent


class Command(SiteCommand):
    help = (
        "Invite customers to consent again for Jira Software's scopes: every active site on a "
        "vendor grant without them (all of them, or those of --tenant/--site; a named site that "
        "needs nothing is listed as skipped, with why). Opens a re-consent case per site and "
        "sends its invitation; invited cases get reminders instead. Exit 0 done, 1 some "
        "failed (listed), 2 usage."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--due-days",
            type=int,
            default=bulk.RECONSENT_DUE_DAYS,
            metavar="DAYS",
            help=f"Days customers are given (default {bulk.RECONSENT_DUE_DAYS}); the reminder "
            "cadence counts down to it.",
        )

    def handle(self, *args, **options):
        if options["due_days"] < 1:
            raise self.usage_error("--due-days must be at least 1")
        named = options["tenant"] or options["site"]
        sites = JiraSite.objects.all() if named else sites_needing_reconsent()
        tenants, named_sites = self.tenants(options), self.sites(options)
        if tenants:
            sites = sites.filter(tenant__in=tenants)
        if named_sites:
            sites = sites.filter(pk__in=[site.pk for site in named_sites])
        sites = sites.select_related("tenant").order_by("pk")
        with self.progress(sites.count(), unit="site") as update:
            outcome = bulk.send_reconsent_invitations(
                sites.iterator(chunk_size=500),
                acting_user=None,
                due_at=timezone.now() + timedelta(days=options["due_days"]),
                dry_run=options["dry_run"],
                progress=update,
            )
        self.finish(outcome, options)
