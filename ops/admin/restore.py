"""Admin for restores: restore jobs (status, counters, per-item errors, plan), a "Restore…"
action on snapshots whose confirmation page shows the dry-run plan, and a page that finds an
issue key across a site's snapshots and restores that one issue into its original project.
Every write goes through ``backups.restore.services``."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from backups.models import Snapshot
from backups.restore import selectors as restore_selectors
from backups.restore.executor import run_restore
from backups.restore.models import RestoreItem, RestoreJob
from backups.restore.report import report_lines
from backups.restore.services import RestoreRefused, restore_job_cancel, restore_job_create
from tenants.models import JiraSite


class RestoreItemInline(admin.TabularInline):
    model = RestoreItem
    fk_name = "job"
    fields = ("kind", "source_key", "source_id", "target_key", "state", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0
    ordering = ("state", "kind", "id")


@admin.register(RestoreJob)
class RestoreJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "snapshot",
        "target_site",
        "scope",
        "dry_run",
        "status",
        "points_spent",
        "current_step",
        "status_reason",
        "created_at",
    )
    list_filter = ("status", "dry_run", "scope")
    search_fields = ("target_site__url", "target_site__cloud_id", "status_reason")
    exclude = ("lease_token", "mapping")
    readonly_fields = [
        f.name for f in RestoreJob._meta.fields if f.name not in ("id", "lease_token", "mapping")
    ] + ["report"]
    inlines = [RestoreItemInline]
    actions = ["cancel_jobs"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="report")
    def report(self, job: RestoreJob) -> str:
        # The same report as restore_snapshot's output and its --format json.
        return "\n".join(report_lines(job)) or "-"

    @admin.action(description="Cancel the selected restores")
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            restore_job_cancel(job=job, acting_user=request.user, reason="cancelled by staff")
        messages.success(request, "Cancelled the active restores among those selected.")

    def get_urls(self):
        urls = [
            path(
                "restore/<uuid:snapshot_id>/",
                self.admin_site.admin_view(self.restore_view),
                name="backups_restore_snapshot",
            ),
            path(
                "find-issue/",
                self.admin_site.admin_view(self.find_issue_view),
                name="backups_restore_find_issue",
            ),
        ]
        return urls + super().get_urls()

    # -- the restore confirmation page -------------------------------------------------------

    def restore_view(self, request: HttpRequest, snapshot_id) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        snapshot = get_object_or_404(Snapshot.objects.select_related("site"), pk=snapshot_id)
        form = RestoreForm(request.POST or None, snapshot=snapshot)
        plan_job = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            args = {
                "snapshot": snapshot,
                "target_site": data["target_site"],
                "project_keys": data["projects"],
                "issue_keys": data["issues"],
                "user_fallback": data["user_fallback"],
                "create_projects": data["create_projects"],
                "on_damaged": data["on_damaged"],
                "acting_user": request.user,
            }
            try:
                if "confirm" in request.POST:
                    job = restore_job_create(**args)
                    messages.success(request, f"Restore job {job.pk} queued.")
                    return HttpResponseRedirect(
                        reverse("admin:backups_restorejob_change", args=[job.pk])
                    )
                plan_job = restore_job_create(**args, dry_run=True, enqueue=False)
                run_restore(plan_job.pk)
                plan_job.refresh_from_db()
            except RestoreRefused as exc:
                form.add_error(None, str(exc))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Restore snapshot {snapshot.pk}",
            "snapshot": snapshot,
            "form": form,
            "plan_job": plan_job,
            "plan_lines": report_lines(plan_job) if plan_job and plan_job.plan else [],
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/backups/restore_confirm.html", context)

    # -- one deleted issue back ----------------------------------------------------------------

    def find_issue_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = FindIssueForm(request.GET or None)
        found = []
        if form.is_valid():
            found = restore_selectors.find_issue_in_snapshots(
                site=form.cleaned_data["site"], key=form.cleaned_data["key"]
            )
        if request.method == "POST":
            snapshot = get_object_or_404(Snapshot, pk=request.POST.get("snapshot"))
            key = request.POST.get("key", "")
            try:
                job = restore_job_create(
                    snapshot=snapshot,
                    target_site=snapshot.site,
                    issue_keys=[key],
                    create_projects=False,
                    acting_user=request.user,
                )
            except RestoreRefused as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Restore of {key} queued (job {job.pk}).")
                return HttpResponseRedirect(
                    reverse("admin:backups_restorejob_change", args=[job.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Find an issue across snapshots",
            "form": form,
            "found": found,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/backups/restore_find_issue.html", context)


def _keys(text: str) -> list[str]:
    return [k for k in text.replace(",", " ").split() if k]


class RestoreForm(forms.Form):
    target_site = forms.ModelChoiceField(queryset=JiraSite.objects.none())
    projects = forms.CharField(required=False, help_text="project keys, space separated")
    issues = forms.CharField(required=False, help_text="issue keys, space separated")
    user_fallback = forms.CharField(
        required=False, help_text="account id used for users unknown in the target"
    )
    create_projects = forms.BooleanField(required=False, initial=True)
    on_damaged = forms.ChoiceField(
        choices=RestoreJob.OnDamaged.choices,
        initial=RestoreJob.OnDamaged.STOP,
        label="Damaged objects in the snapshot",
        help_text="the plan names them; stop before writing anything, or skip them",
    )

    def __init__(self, *args, snapshot: Snapshot, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_site"].queryset = JiraSite.objects.filter(
            tenant_id=snapshot.site.tenant_id
        )
        self.fields["target_site"].initial = snapshot.site_id

    def clean_projects(self):
        return _keys(self.cleaned_data["projects"])

    def clean_issues(self):
        return _keys(self.cleaned_data["issues"])


class FindIssueForm(forms.Form):
    site = forms.ModelChoiceField(queryset=JiraSite.objects.all())
    key = forms.CharField(max_length=255)


def restore_snapshot_action(modeladmin, request, queryset):
    """Snapshot admin action: open the restore page (plan first) for the chosen snapshot."""
    if queryset.count() != 1:
        messages.error(request, "Choose exactly one snapshot to restore.")
        return None
    snapshot = queryset.first()
    return HttpResponseRedirect(reverse("admin:backups_restore_snapshot", args=[snapshot.pk]))


restore_snapshot_action.short_description = "Restore… (plan first)"


def _register_snapshot_action() -> None:
    # On the class, so admins that subclass SnapshotAdmin (the ops admin) inherit it too.
    from ops.admin.backups import SnapshotAdmin

    actions = list(SnapshotAdmin.actions or [])
    if restore_snapshot_action not in actions:
        SnapshotAdmin.actions = [*actions, restore_snapshot_action]


_register_snapshot_action()
