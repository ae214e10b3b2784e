"""The operator command base with the tenant and site filters every tenants-aware command offers
(``--tenant SLUG``, ``--site cloud id|URL|id``, both repeatable; unknown ones exit 2)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from kit.commands import OperatorCommand
from tenants.models import JiraSite, Tenant


class SiteCommand(OperatorCommand):
    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--tenant",
            action="append",
            default=[],
            metavar="SLUG",
            help="Only this tenant (repeatable).",
        )
        parser.add_argument(
            "--site",
            action="append",
            default=[],
            metavar="SITE",
            help="Only this site: cloud id, URL or id (repeatable).",
        )

    def tenants(self, options) -> list[Tenant]:
        slugs = options["tenant"]
        found = list(Tenant.objects.filter(slug__in=slugs))
        missing = set(slugs) - {t.slug for t in found}
        if missing:
            raise self.usage_error(f"unknown tenant: {', '.join(sorted(missing))}")
        return found

    def sites(self, options) -> list[JiraSite]:
        found = []
        for ref in options["site"]:
            ref = ref.strip().rstrip("/")
            query = Q(cloud_id=ref) | Q(url=ref) | Q(url=f"https://{ref}")
            if ref.isdigit():
                query |= Q(pk=int(ref))
            site = JiraSite.objects.filter(query).first()
            if site is None:
                raise self.usage_error(f"unknown site: {ref}")
            found.append(site)
        return found

    def narrow(self, queryset: QuerySet, options, *, tenant_path: str, site_path: str):
        """Apply --tenant and --site to ``queryset`` (paths to the tenant and the site)."""
        tenants, sites = self.tenants(options), self.sites(options)
        if tenants:
            queryset = queryset.filter(**{f"{tenant_path}__in": tenants})
        if sites:
            queryset = queryset.filter(**{f"{site_path}__in": sites})
        return queryset
