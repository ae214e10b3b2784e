"""Read-only views of our Atlassian traffic for support staff, and the compliance report."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from atlassian.models import CallStat, PoolQuota, RateLimitHold
from ops.compliance import build_compliance_report, parse_since

COMPLIANCE_PERMISSION = "atlassian.view_compliance_report"
PAGE_ROWS = 200  # evidence rows per line on the page; the linked changelists hold the rest


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CallStat)
class CallStatAdmin(ReadOnlyAdmin):
    list_display = (
        "hour",
        "site_cloud_id",
        "pool",
        "credential_kind",
        "endpoint_family",
        "status_class",
        "requests",
        "points",
    )
    list_filter = ("credential_kind", "status_class", "pool")
    search_fields = ("site_cloud_id", "endpoint_family")
    date_hierarchy = "hour"

    def get_urls(self):
        urls = [
            path(
                "compliance/",
                self.admin_site.admin_view(self.compliance_view),
                name="atlassian_compliance_report",
            )
        ]
        return urls + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_view_compliance": request.user.has_perm(COMPLIANCE_PERMISSION),
        }
        return super().changelist_view(request, extra_context=extra_context)

    def compliance_view(self, request: HttpRequest) -> HttpResponse:
        """The compliance report (ops.compliance), read-only; staff with
        ``atlassian.view_compliance_report`` (the Security admin role) or superusers."""
        if not request.user.has_perm(COMPLIANCE_PERMISSION):
            raise PermissionDenied
        now = timezone.now()
        since_text = request.GET.get("since", "").strip()
        error = ""
        since = None
        if since_text:
            try:
                since = parse_since(since_text)
            except ValueError as exc:
                error = f"since: {exc}"
            else:
                if since > now:
                    error, since = f"since: {since_text} is in the future", None
        report = build_compliance_report(since=since, now=now)
        lines = []
        for line in report.lines:
            rows = line.rows[-PAGE_ROWS:] if line.key == "vendor_quota" else line.rows[:PAGE_ROWS]
            lines.append(
                {
                    "line": line,
                    "cells": [[row.get(c) for c in line.columns] for row in rows],
                    "hidden": len(line.rows) - len(rows),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Compliance report",
            "opts": self.model._meta,
            "report": report,
            "lines": lines,
            "since_text": since_text,
            "error": error,
        }
        return TemplateResponse(request, "admin/atlassian/compliance_report.html", context)


@admin.register(RateLimitHold)
class RateLimitHoldAdmin(ReadOnlyAdmin):
    list_display = ("key", "not_before", "reason", "updated_at")
    search_fields = ("key",)


@admin.register(PoolQuota)
class PoolQuotaAdmin(ReadOnlyAdmin):
    """The sites on Atlassian's Tier 2 (set on a site with "Set Atlassian rate-limit tier")."""

    list_display = ("cloud_id", "points_per_hour", "plan", "users", "source", "updated_at")
    list_filter = ("source", "plan")
    search_fields = ("cloud_id",)
