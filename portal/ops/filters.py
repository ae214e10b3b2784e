"""Changelist filters behind the dashboard's figures that are not a plain field lookup."""

from __future__ import annotations

from django.contrib import admin

from portal.ops.dashboard import backup_overdue_sites
from tenants.selectors import legacy_sites_past_due


class SiteAttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "ops"

    def lookups(self, request, model_admin):
        return [
            ("past_due", "Legacy, past migration due date"),
            ("backup_overdue", "No successful backup in its window"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "past_due":
            return queryset.filter(pk__in=legacy_sites_past_due().values("pk"))
        if self.value() == "backup_overdue":
            return queryset.filter(pk__in=backup_overdue_sites().values("pk"))
        return queryset
