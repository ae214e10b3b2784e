"""manage.py legal_hold list|place|release [--tenant SLUG | --site SITE] [--hold ID] --reason"""

from __future__ import annotations

from kit.commands import OperatorCommand, moment
from tenants.exceptions import DomainError
from tenants.models import JiraSite, LegalHold, Tenant
from tenants.services import legal_hold_place, legal_hold_release


class Command(OperatorCommand):
    help = (
        "Legal holds: 'list' the active ones (all with -v 2), 'place' one on a tenant (--tenant) "
        "or a site (--site) with --reason, 'release' one (--hold ID) with --reason. While a "
        "hold is active retention prunes none of the held snapshots and offboarding erases "
        "nothing. Both changes are audited. Exit 0 done, 1 refused (named), 2 usage or "
        "unknown tenant, site or hold."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("action", choices=("list", "place", "release"))
        parser.add_argument("--tenant", metavar="SLUG", help="The tenant to hold.")
        parser.add_argument("--site", metavar="SITE", help="The site to hold: cloud id or URL.")
        parser.add_argument("--hold", metavar="ID", help="The hold to release.")
        parser.add_argument("--reason", default="", help="Recorded in the audit log.")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "list":
            return self._list(options)
        if not options["reason"].strip():
            raise self.usage_error(f"{action} needs --reason")
        if action == "place":
            tenant, site = self._target(options)
            if options["dry_run"]:
                self.summary(f"a legal hold would be placed on {tenant or site}", options)
                return
            try:
                hold = legal_hold_place(
                    tenant=tenant, site=site, reason=options["reason"], acting_user=None
                )
            except DomainError as exc:
                raise self.failure(str(exc)) from None
            self.write_rows([_row(hold)], options)
            self.summary(f"legal hold {hold.pk} placed on {tenant or site}", options)
            return
        if not options["hold"] or not options["hold"].isdigit():
            raise self.usage_error("release needs --hold ID (see 'legal_hold list')")
        hold = LegalHold.objects.filter(pk=int(options["hold"])).first()
        if hold is None:
            raise self.usage_error(f"unknown legal hold: {options['hold']}")
        if options["dry_run"]:
            self.summary(f"legal hold {hold.pk} would be released", options)
            return
        try:
            hold = legal_hold_release(hold=hold, reason=options["reason"], acting_user=None)
        except DomainError as exc:
            raise self.failure(str(exc)) from None
        self.write_rows([_row(hold)], options)
        self.summary(f"legal hold {hold.pk} released", options)

    def _target(self, options) -> tuple[Tenant | None, JiraSite | None]:
        if bool(options["tenant"]) == bool(options["site"]):
            raise self.usage_error("name exactly one of --tenant and --site")
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise self.usage_error(f"unknown tenant: {options['tenant']}")
            return tenant, None
        ref = options["site"].strip().rstrip("/")
        site = JiraSite.objects.filter(cloud_id=ref).first() or (
            JiraSite.objects.filter(url__in=[ref, f"https://{ref}"]).first()
        )
        if site is None:
            raise self.usage_error(f"unknown site: {ref}")
        return None, site

    def _list(self, options) -> None:
        holds = LegalHold.objects.select_related("tenant", "site").order_by("placed_at")
        if options["tenant"] or options["site"]:
            tenant, site = self._target(options)
            holds = holds.filter(tenant=tenant) if tenant else holds.filter(site=site)
        if options["verbosity"] < 2:
            holds = holds.filter(released_at__isnull=True)
        rows = [_row(h) for h in holds]
        self.write_rows(rows, options)
        self.summary(f"{len(rows)} legal hold(s)", options)


def _row(hold: LegalHold) -> dict:
    return {
        "hold": hold.pk,
        "on": f"tenant {hold.tenant.slug}" if hold.tenant_id else f"site {hold.site.url}",
        "reason": hold.reason,
        "placed_at": moment(hold.placed_at),
        "released_at": moment(hold.released_at),
    }
