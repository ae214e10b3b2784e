"""Admin for roll-backs: roll-back jobs (read-only records: status, counts, the per-issue diff
and what was written) and the roll-back page of a snapshot — the scope first, then the diff of
a dry run ("field: now → snapshot" per issue, nothing written), then "Roll back as shown". Every
write goes through ``backups.rollback.services``; starting one needs the ``ops.restore``
permission."""

from __future__ import annotations

from datetime import UTC

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from backups.models import Snapshot
from backups.rollback.executor import run_rollback
from backups.rollback.models import RollbackJob
from backups.rollback.report import rollback_rows, scope_text
from backups.rollback.services import (
    RollbackRefused,
    rollback_job_cancel,
    rollback_job_create,
    rollback_job_from_dry_run,
)
from ops.admin.backups import ReadOnlyPage, snapshot_page_action
from ops.admin.tenant_actions import OpsPermissions
from ops.display import LabelledChangePage, admin_link, clipped, host, one_line, status_badge

ACTIVE = (RollbackJob.Status.QUEUED, RollbackJob.Status.RUNNING)
DIFF_ROWS = 500
DRY_RUN_SLICES = 20
JOB_FIELDS = (
    "status_word",
    "status_reason",
    "what",
    "snapshot_link",
    "site",
    "remove_added",
    "points_spent",
    "requested_by",
    "created_at",
    "started_at",
    "finished_at",
    "diff",
)
INTERNALS = ("current_step", "checkpoint", "counters", "errors", "attempts", "not_before")


def diff_table(job: RollbackJob) -> str:
    """The per-issue diff as an HTML table (the first ``DIFF_ROWS`` rows)."""
    rows = rollback_rows(job)
    if not rows:
        return format_html('<p class="ops-panel">No differences.</p>')
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>→ {}</td></tr>",
        ((r["issue"], r["field"], r["now"], r["snapshot"]) for r in rows[:DIFF_ROWS]),
    )
    more = (
        format_html(
            "<p>… and {} more rows (the command's --format csv lists all).</p>",
            len(rows) - DIFF_ROWS,
        )
        if len(rows) > DIFF_ROWS
        else ""
    )
    return format_html(
        '<table id="rollback-diff"><thead><tr><th>issue</th><th>field</th><th>now</th>'
        "<th>snapshot</th></tr></thead><tbody>{}</tbody></table>{}",
        body,
        more,
    )


@admin.register(RollbackJob)
class RollbackJobAdmin(OpsPermissions, ReadOnlyPage, LabelledChangePage, admin.ModelAdmin):
    list_display = ("id", "status_word", "site", "what", "created_at", "reason")
    list_filter = ("status", "dry_run", "scope")
    list_select_related = ("site", "snapshot")
    search_fields = ("site__url", "site__cloud_id", "status_reason", "issue_keys")
    fieldsets = [
        (None, {"fields": JOB_FIELDS}),
        ("Internals", {"classes": ["collapse"], "fields": INTERNALS}),
    ]
    readonly_fields = [*JOB_FIELDS, *INTERNALS]
    actions = ["cancel_jobs"]

    def label(self, job: RollbackJob) -> str:
        kind = "Roll-back dry run" if job.dry_run else "Roll-back"
        return f"{kind} #{job.pk} of {host(job.site.url)}: {scope_text(job)}"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        extra = {}
        if job is not None and job.status in ACTIVE:
            extra["refresh_seconds"] = 5  # the page follows the job until it ends
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    @admin.display(description="status", ordering="status")
    def status_word(self, job: RollbackJob) -> str:
        return status_badge(job.status, job.get_status_display())

    @admin.display(description="what")
    def what(self, job: RollbackJob) -> str:
        text = scope_text(job)
        return one_line(f"{text} (dry run)" if job.dry_run else text)

    @admin.display(description="snapshot")
    def snapshot_link(self, job: RollbackJob) -> str:
        return admin_link(job.snapshot, f"{job.snapshot} of {host(job.snapshot.site.url)}")

    @admin.display(description="reason")
    def reason(self, job: RollbackJob) -> str:
        return clipped(job.status_reason)

    @admin.display(description="per-issue diff (field: now → snapshot)")
    def diff(self, job: RollbackJob) -> str:
        return diff_table(job)

    @admin.action(description="Cancel the selected roll-backs", permissions=["restore"])
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            rollback_job_cancel(job=job, acting_user=request.user, reason="cancelled by staff")
        messages.success(request, "Cancelled the active roll-backs among those selected.")

    def get_urls(self):
        urls = [
            path(
                "rollback/<uuid:snapshot_id>/",
                self.admin_site.admin_view(self.rollback_view),
                name="backups_rollback_snapshot",
            ),
        ]
        return urls + super().get_urls()

    # -- the roll-back page: the scope, the diff of a dry run, then "Roll back as shown" ------

    def rollback_view(self, request: HttpRequest, snapshot_id) -> HttpResponse:
        if not self.has_restore_permission(request):
            raise PermissionDenied
        snapshot = get_object_or_404(Snapshot.objects.select_related("site"), pk=snapshot_id)
        form = RollbackForm(request.POST or None)
        dry = None
        if request.method == "POST" and "confirm" in request.POST:
            reference = request.POST.get("dry_run", "")
            dry = get_object_or_404(
                RollbackJob,
                pk=int(reference) if reference.isdigit() else 0,
                snapshot=snapshot,
                dry_run=True,
            )
            try:
                job = rollback_job_from_dry_run(dry_run=dry, acting_user=request.user)
            except RollbackRefused as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Roll-back queued (job {job.pk}); this page follows it.")
                return HttpResponseRedirect(
                    reverse("admin:backups_rollbackjob_change", args=[job.pk])
                )
        elif request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                dry = rollback_job_create(
                    snapshot=snapshot,
                    issue_keys=data["issues"],
                    project_keys=data["projects"],
                    jql=data["jql"],
                    changed_from=data["changed_from"],
                    changed_to=data["changed_to"],
                    changed_by=data["changed_by"],
                    remove_added=data["remove_added"],
                    dry_run=True,
                    acting_user=request.user,
                    enqueue=False,
                )
                for _ in range(DRY_RUN_SLICES):  # a dry run reads only: slices follow at once
                    if run_rollback(dry.pk).state not in ("requeue", "busy"):
                        break
                dry.refresh_from_db()
            except RollbackRefused as exc:
                form.add_error(None, str(exc))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Roll back issues of {host(snapshot.site.url)} to {snapshot}",
            "snapshot": snapshot,
            "form": form,
            "dry": dry,
            "ready": dry is not None and dry.status == RollbackJob.Status.SUCCEEDED,
            "diff": diff_table(dry) if dry is not None else "",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/backups/rollback_confirm.html", context)


def _keys(text: str) -> list[str]:
    return [k for k in text.replace(",", " ").split() if k]


class RollbackForm(forms.Form):
    issues = forms.CharField(required=False, help_text="Issue keys, space separated.")
    projects = forms.CharField(
        required=False, help_text="Project keys, space separated (narrows a time window)."
    )
    jql = forms.CharField(required=False, label="JQL", help_text="The issues a query finds.")
    changed_from = forms.DateTimeField(
        required=False, label="Changed from (UTC)", help_text="e.g. 2026-03-01 12:00"
    )
    changed_to = forms.DateTimeField(required=False, label="Changed to (UTC)")
    changed_by = forms.CharField(
        required=False, label="By account", help_text="Only changes by this Atlassian account id."
    )
    remove_added = forms.BooleanField(
        required=False,
        help_text="Also delete comments, worklogs, attachments, links and remote links added "
        "after the snapshot (left alone otherwise).",
    )

    def clean_issues(self):
        return _keys(self.cleaned_data["issues"])

    def clean_projects(self):
        return _keys(self.cleaned_data["projects"])

    def _utc(self, name: str):
        value = self.cleaned_data[name]
        return value.astimezone(UTC) if value is not None else None

    def clean_changed_from(self):
        return self._utc("changed_from")

    def clean_changed_to(self):
        return self._utc("changed_to")


rollback_snapshot_action = snapshot_page_action(
    "admin:backups_rollback_snapshot",
    "Roll issues back to this snapshot… (diff first)",
    "Choose exactly one snapshot to roll issues back to.",
)
