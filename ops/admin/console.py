"""Admin of the portal app, and the staff operations console (``ops``): the dashboard and
the admin pages that span both domains. ``portal`` is the only app that may import both
``tenants`` and ``backups``, so the tenant page (which shows backup jobs and snapshots), "run a
backup now" on tenants and sites, and the dashboard's site filters are added here, by
subclassing the domains' own admins."""

from django.contrib import admin
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from backups.models import BackupJob, Snapshot
from ops import tenant_page
from ops.admin import backup_actions
from ops.admin.backups import BackupJobAdmin, SnapshotAdmin
from ops.admin.tenants import (
    JiraSiteAdmin,
    MigrationCaseAdmin,
    OAuthGrantAdmin,
    TenantAdmin,
)
from ops.dashboard import cached_dashboard
from ops.display import LabelledChangePage, when
from ops.filters import ProtectionFilter, SiteAttentionFilter, tenant_filter, without_tenant_links
from ops.models import Operations
from ops.paginator import EstimatedCountPaginator
from portal.models import Invitation, OAuthState, SecurityFlag
from tenants.models import JiraSite, MigrationCase, OAuthGrant, Tenant


@admin.register(SecurityFlag)
class SecurityFlagAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "tenant", "other_tenant", "cloud_id", "resolved_at"]
    list_filter = ["kind", "resolved_at"]
    readonly_fields = ["kind", "tenant", "other_tenant", "user", "cloud_id", "detail", "created_at"]


@admin.register(OAuthState)
class OAuthStateAdmin(admin.ModelAdmin):
    # The hashes are not secrets but are useless to staff: show only who/when.
    list_display = ["created_at", "tenant", "user", "purpose", "expires_at", "consumed_at"]
    fields = ["tenant", "user", "purpose", "created_at", "expires_at", "consumed_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "email", "role", "expires_at", "accepted_at"]
    fields = ["tenant", "email", "role", "invited_by", "expires_at", "accepted_at", "accepted_by"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


# ---------------------------------------------------------------------------------------------
# The operations console.


class ScalableChangelist:
    """Changelists that stay fast on large tables: no exact COUNT(*) of the whole table, and
    an estimate instead of an exact count above ``ops.paginator.ESTIMATE_ABOVE``."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(Operations)
class OperationsDashboardAdmin(admin.ModelAdmin):
    """The operations dashboard, at /admin/ops/operations/ (linked from the admin index)."""

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.has_perm("ops.view_dashboard")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            **cached_dashboard(refresh="refresh" in request.GET),
            "title": "Operations dashboard",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/ops/dashboard.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return redirect("admin:ops_operations_changelist")


admin.site.unregister(Tenant)


@admin.register(Tenant)
class TenantOpsAdmin(ScalableChangelist, TenantAdmin):
    list_filter = without_tenant_links(TenantAdmin.list_filter, "tenant")
    inlines = [*TenantAdmin.inlines, *tenant_page.INLINES]
    readonly_fields = [*TenantAdmin.readonly_fields, *tenant_page.SECTIONS]
    actions = [*TenantAdmin.actions, *backup_actions.BACKUP_ACTIONS]


admin.site.unregister(JiraSite)


@admin.register(JiraSite)
class JiraSiteOpsAdmin(ScalableChangelist, LabelledChangePage, JiraSiteAdmin):
    list_filter = [
        SiteAttentionFilter,
        ProtectionFilter,
        *without_tenant_links(JiraSiteAdmin.list_filter, "tenant"),
    ]
    list_display = [*JiraSiteAdmin.list_display[:-1], "last_backup"]
    list_select_related = [*JiraSiteAdmin.list_select_related, "backup_schedule"]
    actions = [*JiraSiteAdmin.actions, *backup_actions.BACKUP_ACTIONS]

    def label(self, site: JiraSite) -> str:
        return f"{site.url} ({site.tenant.name})"

    @admin.display(description="last backup", ordering="backup_schedule__last_success_at")
    def last_backup(self, site: JiraSite) -> str:
        # The schedule keeps it when a snapshot commits: no snapshot is read here.
        schedule = getattr(site, "backup_schedule", None)
        return when(schedule.last_success_at) if schedule else "not scheduled"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tools = [
            (
                reverse("admin:backups_snapshot_changelist") + f"?site__id__exact={object_id}",
                "Snapshots",
            ),
            (
                reverse("admin:backups_restore_find_issue") + f"?site={object_id}",
                "Find an issue across snapshots",
            ),
            (reverse("admin:backups_snapshot_changes") + f"?site={object_id}", "What changed"),
        ]
        return super().change_view(
            request, object_id, form_url, {"object_tools": tools, **(extra_context or {})}
        )


admin.site.unregister(OAuthGrant)


@admin.register(OAuthGrant)
class OAuthGrantOpsAdmin(ScalableChangelist, OAuthGrantAdmin):
    list_filter = without_tenant_links(OAuthGrantAdmin.list_filter, "grant_sites__site__tenant")


admin.site.unregister(MigrationCase)


@admin.register(MigrationCase)
class MigrationCaseOpsAdmin(ScalableChangelist, MigrationCaseAdmin):
    list_filter = without_tenant_links(MigrationCaseAdmin.list_filter, "site__tenant")


admin.site.unregister(BackupJob)


@admin.register(BackupJob)
class BackupJobOpsAdmin(ScalableChangelist, BackupJobAdmin):
    list_select_related = ("site",)
    list_filter = [*BackupJobAdmin.list_filter, tenant_filter("site__tenant")]


admin.site.unregister(Snapshot)


@admin.register(Snapshot)
class SnapshotOpsAdmin(ScalableChangelist, SnapshotAdmin):
    list_select_related = ("site",)
    list_filter = [*SnapshotAdmin.list_filter, tenant_filter("site__tenant")]
