"""Admin for restores: restore jobs (read-only records: status, result, counters, per-item
errors, plan), the restore page of a snapshot (the plan of a dry run first, then "Restore as
planned"), and "find an issue across snapshots", which brings one deleted issue back into its
original project through the same plan-then-confirm page. Every write goes through
``backups.restore.services``; starting a restore needs the ``ops.restore`` permission."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from backups.models import Snapshot
from backups.restore import selectors as restore_selectors
from backups.restore.executor import run_restore
from backups.restore.models import RestoreItem, RestoreJob
from backups.restore.report import report_lines
from backups.restore.services import RestoreRefused, restore_job_cancel, restore_job_create
from backups.selectors import site_by_reference
from ops.admin.backups import ReadOnlyPage, snapshot_page_action
from ops.admin.tenant_actions import OpsPermissions
from ops.display import (
    LabelledChangePage,
    admin_link,
    clipped,
    host,
    one_line,
    site_column,
    status_badge,
)
from tenants.models import JiraSite

ACTIVE = (RestoreJob.Status.QUEUED, RestoreJob.Status.RUNNING)


class RestoreItemInline(admin.TabularInline):
    model = RestoreItem
    fk_name = "job"
    fields = ("kind", "source_key", "source_id", "target_key", "state", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0
    ordering = ("state", "kind", "id")
    verbose_name_plural = "what this job created or found (the id map)"
    classes = ["ops-record"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


JOB_FIELDS = (
    "result",
    "status_word",
    "status_reason",
    "what",
    "snapshot_link",
    "target_site",
    "user_fallback",
    "create_projects",
    "points_spent",
    "requested_by",
    "created_at",
    "started_at",
    "finished_at",
    "report",
)
INTERNALS = ("current_step", "done_steps", "counters", "errors", "attempts", "not_before")


@admin.register(RestoreJob)
class RestoreJobAdmin(OpsPermissions, ReadOnlyPage, LabelledChangePage, admin.ModelAdmin):
    # The status second: it stays in view at 1366 px. The snapshot by its date, not its id.
    list_display = (
        "id",
        "status_word",
        "target",
        "what",
        "snapshot_taken",
        "created_at",
        "reason",
    )
    list_filter = ("status", "dry_run", "scope")
    list_select_related = ("target_site", "snapshot")
    search_fields = ("target_site__url", "target_site__cloud_id", "status_reason", "issue_keys")
    fieldsets = [
        (None, {"fields": JOB_FIELDS}),
        ("Internals", {"classes": ["collapse"], "fields": INTERNALS}),
    ]
    readonly_fields = [*JOB_FIELDS, *INTERNALS]
    inlines = [RestoreItemInline]
    actions = ["cancel_jobs"]

    def label(self, job: RestoreJob) -> str:
        kind = "Dry run" if job.dry_run else "Restore"
        return f"{kind} #{job.pk} into {host(job.target_site.url)}: {_scope(job)}"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        extra = {}
        if job is not None and job.status in ACTIVE:
            extra["refresh_seconds"] = 5  # the page follows the job until it ends
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    # -- columns and fields --------------------------------------------------------------------

    target = site_column("target_site", "target site")

    @admin.display(description="status", ordering="status")
    def status_word(self, job: RestoreJob) -> str:
        return status_badge(job.status, job.get_status_display())

    @admin.display(description="what")
    def what(self, job: RestoreJob) -> str:
        return one_line(f"{_scope(job)} (dry run)" if job.dry_run else _scope(job))

    @admin.display(description="snapshot", ordering="snapshot__completed_at")
    def snapshot_taken(self, job: RestoreJob) -> str:
        return one_line(f"{job.snapshot.completed_at:%Y-%m-%d %H:%M}")

    @admin.display(description="snapshot")
    def snapshot_link(self, job: RestoreJob) -> str:
        return admin_link(job.snapshot, f"{job.snapshot} of {host(job.snapshot.site.url)}")

    @admin.display(description="reason")
    def reason(self, job: RestoreJob) -> str:
        return clipped(job.status_reason)

    @admin.display(description="report")
    def report(self, job: RestoreJob) -> str:
        # The same report as restore_snapshot's output and its --format json.
        lines = report_lines(job)
        if not lines:
            return "-"
        return format_html('<pre class="ops-plan">{}</pre>', "\n".join(lines))

    @admin.display(description="result")
    def result(self, job: RestoreJob) -> str:
        """What a person came to see: the new keys of the restored issues, with a link to each
        in the target site; or where the job stands."""
        if job.dry_run:
            return format_html('<div class="ops-panel">A dry run: nothing was written.</div>')
        issues = list(
            RestoreItem.objects.filter(job=job, kind=RestoreItem.Kind.ISSUE)
            .exclude(target_key="")
            .order_by("source_key")[:20]
        )
        if issues:
            site = job.target_site.url.rstrip("/")
            lines = format_html_join(
                "",
                '<p>{} {} <strong class="key">{}</strong> — '
                '<a href="{}/browse/{}" target="_blank" rel="noopener">open {} in {}</a></p>',
                (
                    (
                        i.source_key,
                        "was already in the site as"
                        if i.state == RestoreItem.State.EXISTING
                        else "was restored as",
                        i.target_key,
                        site,
                        i.target_key,
                        i.target_key,
                        host(site),
                    )
                    for i in issues
                ),
            )
            return format_html('<div class="ops-panel" id="restored-keys">{}</div>', lines)
        if job.status in ACTIVE:
            return format_html(
                '<div class="ops-panel">{} — this page follows it; the new keys appear '
                "here when it is done.</div>",
                job.get_status_display(),
            )
        return format_html('<div class="ops-panel">{}</div>', job.get_status_display())

    @admin.action(description="Cancel the selected restores", permissions=["restore"])
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

    # -- the restore page: the plan first, then "Restore as planned" ---------------------------

    def restore_view(self, request: HttpRequest, snapshot_id) -> HttpResponse:
        if not self.has_restore_permission(request):
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
                    what = ", ".join(data["issues"]) or ", ".join(data["projects"]) or "the site"
                    messages.success(
                        request,
                        f"Restore of {what} queued (job {job.pk}); this page follows it"
                        + (" and shows the new keys when it is done." if data["issues"] else "."),
                    )
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
            "title": f"Restore from {snapshot} of {host(snapshot.site.url)}",
            "snapshot": snapshot,
            "form": form,
            "plan_job": plan_job,
            "plan_ready": plan_job is not None and plan_job.status == RestoreJob.Status.SUCCEEDED,
            "plan_lines": report_lines(plan_job) if plan_job and plan_job.plan else [],
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/backups/restore_confirm.html", context)

    # -- one deleted issue back ----------------------------------------------------------------

    def find_issue_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = FindIssueForm(request.GET or None)
        found = []
        if form.is_valid():
            site, key = form.cleaned_data["site"], form.cleaned_data["key"]
            found = restore_selectors.find_issue_in_snapshots(site=site, key=key)
            # Show the site by its URL, however it was given (?site=<id> from a site's page).
            form = FindIssueForm({"site": site.url, "key": key})
            form.is_valid()
        context = {
            **self.admin_site.each_context(request),
            "title": "Find an issue across snapshots",
            "form": form,
            "found": found,
            "can_restore": self.has_restore_permission(request),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/backups/restore_find_issue.html", context)


def _scope(job: RestoreJob) -> str:
    """What a restore covers, in words: "ACME-12, ACME-13", "projects OPS", "whole site"."""
    if job.scope == RestoreJob.Scope.ISSUES:
        return ", ".join(job.issue_keys[:3]) + (" …" if len(job.issue_keys) > 3 else "")
    if job.scope == RestoreJob.Scope.PROJECTS:
        return "projects " + ", ".join(job.project_keys)
    return "whole site"


def _keys(text: str) -> list[str]:
    return [k for k in text.replace(",", " ").split() if k]


class RestoreForm(forms.Form):
    target_site = forms.ModelChoiceField(queryset=JiraSite.objects.none(), label="Into site")
    projects = forms.CharField(required=False, help_text="Project keys, space separated.")
    issues = forms.CharField(required=False, help_text="Issue keys, space separated.")
    user_fallback = forms.CharField(
        required=False, help_text="Account id used for users unknown in the target."
    )
    create_projects = forms.BooleanField(
        required=False, initial=True, help_text="Create projects missing in the target."
    )
    on_damaged = forms.ChoiceField(
        choices=RestoreJob.OnDamaged.choices,
        initial=RestoreJob.OnDamaged.STOP,
        required=False,
        label="Damaged objects in the snapshot",
        help_text="The plan names them: stop before writing anything, or skip them.",
    )

    def __init__(self, *args, snapshot: Snapshot, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_site"].queryset = JiraSite.objects.filter(
            tenant_id=snapshot.site.tenant_id
        )
        self.fields["target_site"].initial = snapshot.site_id

    def clean_on_damaged(self):
        # Not asked on the one-issue path ("Restore this issue…"): stop, the safe choice.
        return self.cleaned_data["on_damaged"] or RestoreJob.OnDamaged.STOP

    def clean_projects(self):
        return _keys(self.cleaned_data["projects"])

    def clean_issues(self):
        return _keys(self.cleaned_data["issues"])


class FindIssueForm(forms.Form):
    site = forms.CharField(
        max_length=300, help_text="The site's URL, cloud id or name (or its id in the admin)."
    )
    key = forms.CharField(max_length=255, label="Issue key", help_text="e.g. ACME-123")

    def clean_site(self) -> JiraSite:
        try:
            return site_by_reference(self.cleaned_data["site"])
        except JiraSite.DoesNotExist:
            raise forms.ValidationError("No site matches this.") from None


restore_snapshot_action = snapshot_page_action(
    "admin:backups_restore_snapshot",
    "Restore… (plan first)",
    "Choose exactly one snapshot to restore.",
)
