"""Changelist filters behind the dashboard's figures that are not a plain field lookup."""

from __future__ import annotations

from django.contrib import admin

from backups.models import SiteProtection
from backups.protection.state import STATES, sites_in_state
from ops.dashboard import overdue_schedules
from tenants.selectors import legacy_sites_past_due, sites_needing_reconsent


class SiteAttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "ops"

    def lookups(self, request, model_admin):
        return [
            ("past_due", "Legacy, past migration due date"),
            ("backup_overdue", "No successful backup in its window"),
            ("reconsent", "Grant lacks Jira Software's scopes (re-consent)"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "past_due":
            return queryset.filter(pk__in=legacy_sites_past_due().values("pk"))
        if self.value() == "backup_overdue":
            # The schedules' stored overdue moment, as the dashboard counts them.
            return queryset.filter(pk__in=overdue_schedules().values("site_id"))
        if self.value() == "reconsent":
            return queryset.filter(pk__in=sites_needing_reconsent().values("pk"))
        return queryset


class ProtectionFilter(admin.SimpleListFilter):
    """The sites in one protection state: exactly what the dashboard's figure counts."""

    title = "protection"
    parameter_name = "protection"

    def lookups(self, request, model_admin):
        return [(state, SiteProtection.State(state).label) for state in STATES]

    def queryset(self, request, queryset):
        if self.value() in STATES:
            return sites_in_state(self.value(), queryset)
        return queryset


def tenant_filter(path: str) -> type[admin.SimpleListFilter]:
    """A "tenant" filter that is a text box (a tenant's slug) instead of a link per tenant:
    Django's related-field filter lists every tenant on every page, 10,000 links at scale.
    ``path`` leads from the listed model to the tenant (e.g. ``site__tenant``)."""

    class TenantSlugFilter(admin.SimpleListFilter):
        title = "tenant (slug)"
        parameter_name = "tenant"
        template = "admin/ops/input_filter.html"

        def lookups(self, request, model_admin):
            # One placeholder choice so Django shows the filter; the template draws a box.
            return [("", "")]

        def choices(self, changelist):
            # Keep the other filters, the search and the ordering; start again at page 1.
            others = [
                (key, value)
                for key, values in changelist.params.items()
                if key not in (self.parameter_name, "p")
                for value in (values if isinstance(values, list) else [values])
            ]
            yield {"value": self.value() or "", "others": others}

        def queryset(self, request, queryset):
            if self.value():
                return queryset.filter(**{f"{path}__slug": self.value().strip()}).distinct()
            return queryset

    TenantSlugFilter.__name__ = f"TenantSlugFilter_{path}"
    return TenantSlugFilter


TENANT_PATHS = {"tenant", "site__tenant", "grant_sites__site__tenant", "case__site__tenant"}


def without_tenant_links(list_filter, path: str) -> list:
    """``list_filter`` with Django's per-tenant link filter replaced by the slug box."""
    return [tenant_filter(path) if f in TENANT_PATHS else f for f in list_filter]
