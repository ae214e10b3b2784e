"""Admin for support staff: jobs with progress, reasons and last checkpoint; snapshots;
schedules and retention (editable). Actions call the services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html

from backups import services
from backups.models import BackupJob, BackupSchedule, Checkpoint, CompactionJob, Snapshot
from kit.outcomes import counted
from ops.admin import backup_actions as admin_actions
from ops.admin.changes import changes_view
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


class ReadOnlyPage:
    """A record of what happened (a job, a snapshot): viewed, never edited or deleted in a form.
    Its actions (cancel, resume, verify, restore) go through the services."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class CheckpointInline(admin.TabularInline):
    """A job's steps; part of the job's record (never deleted on their own)."""

    model = Checkpoint
    fields = ("key", "status", "objects_done", "points", "lease_generation", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ("-updated_at",)
    max_num = 0
    verbose_name_plural = "steps (checkpoints)"
    classes = ["ops-record"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _fields_except(model, shown: tuple[str, ...], hidden: tuple[str, ...]) -> list[str]:
    """The model's other fields, for a collapsed "internals" section."""
    return [
        f.name
        for f in model._meta.concrete_fields
        if f.name not in (*shown, *hidden, "id") and f.attname not in shown
    ]


JOB_FIELDS = (
    "site",
    "kind_label",
    "status_word",
    "status_reason",
    "progress",
    "points_spent",
    "stored",
    "snapshot_link",
    "requested_by",
    "created_at",
    "started_at",
    "finished_at",
)


@admin.register(BackupJob)
class BackupJobAdmin(OpsPermissions, ReadOnlyPage, LabelledChangePage, admin.ModelAdmin):
    # Key columns first: the status stays in view at 1366 px; the step and checkpoint are on
    # the job's page.
    list_display = (
        "id",
        "site_host",
        "status_word",
        "kind",
        "progress",
        "points_spent",
        "created_at",
        "reason",
    )
    list_filter = ("status", "kind")
    search_fields = ("site__url", "site__cloud_id", "status_reason")
    fieldsets = [
        (None, {"fields": JOB_FIELDS}),
        (
            "Internals",
            {
                "classes": ["collapse"],
                "fields": _fields_except(
                    BackupJob, ("site", "status", "kind", *JOB_FIELDS), ("lease_token",)
                ),  # bytes_stored included: the exact figure
            },
        ),
    ]
    readonly_fields = [*JOB_FIELDS, *fieldsets[1][1]["fields"]]
    inlines = [CheckpointInline]
    actions = ["cancel_jobs", "resume_jobs"]

    def label(self, job: BackupJob) -> str:
        return f"{job.get_kind_display()} backup #{job.pk} of {host(job.site.url)}"

    def get_urls(self):
        urls = [
            path(
                "changes/",
                self.admin_site.admin_view(lambda request: changes_view(self, request)),
                name="backups_snapshot_changes",
            )
        ]
        return urls + super().get_urls()

    site_host = site_column("site")

    @admin.display(description="progress")
    def progress(self, job: BackupJob) -> str:
        total, done = job.objects_total, job.objects_done
        if total and done < total:
            return one_line(f"{done} / {total} ({100 * done // total} %)")
        return one_line(f"{done} / {total}" if total else f"{done} / ?")

    @admin.display(description="status", ordering="status")
    def status_word(self, job: BackupJob) -> str:
        return status_badge(job.status, job.get_status_display())

    @admin.display(description="kind")
    def kind_label(self, job: BackupJob) -> str:
        if job.kind != job.requested_kind:
            return f"{job.get_kind_display()} (asked: {job.get_requested_kind_display().lower()})"
        return job.get_kind_display()

    @admin.display(description="reason")
    def reason(self, job: BackupJob) -> str:
        return clipped(job.status_reason)

    @admin.display(description="stored")
    def stored(self, job: BackupJob) -> str:
        return filesizeformat(job.bytes_stored)

    @admin.display(description="snapshot")
    def snapshot_link(self, job: BackupJob) -> str:
        snapshot = Snapshot.objects.filter(pk=job.snapshot_id).first()
        return admin_link(snapshot, str(snapshot)) if snapshot else "-"

    @admin.action(description="Cancel the selected jobs", permissions=["run_backups"])
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            services.backup_job_cancel(
                job=job, acting_user=request.user, reason="cancelled by staff"
            )
        messages.success(request, "Cancelled the active jobs among those selected.")

    @admin.action(
        description="Resume jobs paused for re-authorization", permissions=["run_backups"]
    )
    def resume_jobs(self, request, queryset):
        for job in queryset:
            services.backup_job_resume(job=job, acting_user=request.user)
        messages.success(request, "Resumed the paused jobs among those selected.")


COMPACTION_FIELDS = (
    "site",
    "source",
    "status",
    "status_reason",
    "objects_done",
    "objects_total",
    "compacted",
    "requested_by",
    "created_at",
    "started_at",
    "finished_at",
)


@admin.register(CompactionJob)
class CompactionJobAdmin(OpsPermissions, ReadOnlyPage, LabelledChangePage, admin.ModelAdmin):
    """Compactions of incremental chains (backups/compaction.py): a record, run by beat or
    ``manage.py compact_snapshots``."""

    list_display = ("id", "site_host", "status", "objects_done", "created_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("site__url", "site__cloud_id", "status_reason")
    fields = COMPACTION_FIELDS
    readonly_fields = COMPACTION_FIELDS

    def label(self, job: CompactionJob) -> str:
        return f"{job} of {host(job.site.url)}"

    site_host = site_column("site")

    @admin.display(description="compacted snapshot")
    def compacted(self, job: CompactionJob) -> str:
        snapshot = Snapshot.objects.filter(pk=job.snapshot_id).first()
        return admin_link(snapshot, str(snapshot)) if snapshot else "-"


SNAPSHOT_FIELDS = (
    "site",
    "kind",
    "status_word",
    "completed_at",
    "started_at",
    "changes_since",
    "issues",
    "objects_count",
    "size",
    "points_spent",
    "job",
    "last_verified_at",
    "last_verify_problems",
)


@admin.register(Snapshot)
class SnapshotAdmin(OpsPermissions, ReadOnlyPage, LabelledChangePage, admin.ModelAdmin):
    # A snapshot is read, verified and restored from; retention deletes it, never a person
    # (no "delete selected" beside the restore actions).
    list_display = (
        "completed_at",
        "site_host",
        "kind",
        "status_word",
        "issues",
        "size",
        "short_id",
    )
    list_filter = ("status", "kind")
    search_fields = ("site__url", "site__cloud_id", "id")
    fieldsets = [
        (None, {"fields": SNAPSHOT_FIELDS}),
        (
            "Storage",
            {
                "classes": ["collapse"],
                "fields": ["id", *_fields_except(Snapshot, SNAPSHOT_FIELDS, ("status",))],
            },
        ),
    ]
    readonly_fields = [*SNAPSHOT_FIELDS, *fieldsets[1][1]["fields"]]
    actions = ["verify_quick", *admin_actions.SNAPSHOT_ACTIONS]

    def label(self, snapshot: Snapshot) -> str:
        return f"{snapshot} of {host(snapshot.site.url)}"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        snapshot = self.get_object(request, object_id)
        tools = []
        if snapshot is not None:
            tools = [
                (
                    reverse("admin:backups_restore_find_issue") + f"?site={snapshot.site_id}",
                    "Find an issue in this site's snapshots",
                ),
                (
                    reverse("admin:backups_snapshot_changes")
                    + f"?site={snapshot.site_id}&before={snapshot.pk}",
                    "What changed since…",
                ),
                (reverse("admin:backups_restore_snapshot", args=[snapshot.pk]), "Restore…"),
                (
                    reverse("admin:backups_rollback_snapshot", args=[snapshot.pk]),
                    "Roll issues back to this snapshot…",
                ),
            ]
        return super().change_view(
            request, object_id, form_url, {"object_tools": tools, **(extra_context or {})}
        )

    site_host = site_column("site")

    @admin.display(description="status", ordering="status")
    def status_word(self, snapshot: Snapshot) -> str:
        return status_badge(snapshot.status, snapshot.get_status_display())

    @admin.display(description="issues")
    def issues(self, snapshot: Snapshot) -> int | str:
        return (snapshot.counts or {}).get("issues", "-")

    @admin.display(description="size", ordering="bytes_total")
    def size(self, snapshot: Snapshot) -> str:
        return one_line(filesizeformat(snapshot.bytes_total))

    @admin.display(description="id")
    def short_id(self, snapshot: Snapshot) -> str:
        return format_html('<code title="{}">{}</code>', snapshot.pk, str(snapshot.pk)[:8])

    @admin.action(description="Verify (quick)")
    def verify_quick(self, request, queryset):
        for snap in queryset:
            problems = services.snapshot_verify(snapshot=snap, acting_user=request.user)
            level = messages.ERROR if problems else messages.SUCCESS
            messages.add_message(
                request,
                level,
                f"{snap}: "
                + (
                    f"{counted(len(problems), 'problem')}; first: {problems[0]}"
                    if problems
                    else "no problems"
                ),
            )


def snapshot_page_action(url_name: str, description: str, refusal: str):
    """A snapshot admin action that opens a page of one snapshot (``url_name``), added to
    ``SnapshotAdmin`` (on the class, so admins that subclass it inherit it too). Starting
    what the page starts needs the ``ops.restore`` permission."""

    def action(modeladmin, request, queryset):
        if queryset.count() != 1:
            messages.error(request, refusal)
            return None
        return HttpResponseRedirect(reverse(url_name, args=[queryset.first().pk]))

    # "admin:backups_restore_snapshot" -> "restore_snapshot_action" (the action's name)
    action.__name__ = url_name.split(":")[-1].removeprefix("backups_") + "_action"
    action.short_description = description
    action.allowed_permissions = ("restore",)
    SnapshotAdmin.actions = [*(SnapshotAdmin.actions or []), action]
    return action


class BackupScheduleForm(forms.ModelForm):
    class Meta:
        model = BackupSchedule
        fields = ["site", *services.SCHEDULE_SETTINGS]

    def settings(self) -> dict:
        """The settings as entered, for the schedule services."""
        cleaned = self.cleaned_data
        return {name: cleaned[name] for name in services.SCHEDULE_SETTINGS if name in cleaned}

    def clean(self):
        cleaned = super().clean()
        try:
            services.schedule_settings_check(self.settings())
        except services.BackupRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return cleaned


@admin.register(BackupSchedule)
class BackupScheduleAdmin(admin.ModelAdmin):
    form = BackupScheduleForm
    list_display = (
        "site_host",
        "enabled",
        "interval_hours",
        "next_run_at",
        "last_success_at",
        "retention",
    )
    list_filter = ("enabled",)
    autocomplete_fields = ("site",)
    # What the services keep (read-only here): the estimates and the copy of the site's facts.
    kept = (
        "last_enqueued_at",
        "last_success_at",
        "overdue_at",
        "points_per_hour_estimate",
        "pool",
        "site_status",
    )

    def get_readonly_fields(self, request, obj=None):
        return ("site", *self.kept) if obj else self.kept

    site_host = site_column("site")

    @admin.display(description="keeps")
    def retention(self, schedule: BackupSchedule) -> str:
        parts = [
            f"last {schedule.keep_last}",
            f"{schedule.keep_daily} daily",
            f"{schedule.keep_weekly} weekly",
            f"{schedule.keep_monthly} monthly",
        ]
        if schedule.max_age_days:
            parts.append(f"at most {schedule.max_age_days} days")
        return one_line(" · ".join(parts))

    def save_model(self, request, obj, form, change):
        # Through the services: audited, and the estimates, the overdue moment and the copy of
        # the site's pool and status follow in the same transaction.
        settings = form.settings()
        if change:
            services.schedule_update(schedule=obj, acting_user=request.user, **settings)
            return
        created = services.schedule_create(
            site=form.cleaned_data["site"], acting_user=request.user, **settings
        )
        obj.pk = created.pk
        obj.refresh_from_db()
