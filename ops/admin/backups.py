"""Admin for support staff: jobs with progress, reasons and last checkpoint; snapshots;
schedules and retention (editable). Actions call the services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from backups import services
from backups.models import BackupJob, BackupSchedule, Checkpoint, Snapshot
from ops.admin import backup_actions as admin_actions
from ops.admin.tenant_actions import OpsPermissions


class CheckpointInline(admin.TabularInline):
    model = Checkpoint
    fields = ("key", "status", "objects_done", "points", "lease_generation", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ("-updated_at",)
    max_num = 0


@admin.register(BackupJob)
class BackupJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "site",
        "kind",
        "status",
        "progress",
        "points_spent",
        "current_step",
        "last_checkpoint",
        "status_reason",
        "created_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("site__url", "site__cloud_id", "status_reason")
    readonly_fields = [f.name for f in BackupJob._meta.fields if f.name != "id"] + ["progress"]
    exclude = ("lease_token",)
    inlines = [CheckpointInline]
    actions = ["cancel_jobs", "resume_jobs"]

    @admin.display(description="progress")
    def progress(self, job: BackupJob) -> str:
        total = job.objects_total
        if total:
            return f"{job.objects_done} / {total} ({100 * job.objects_done // max(total, 1)} %)"
        return f"{job.objects_done} / ?"

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Cancel the selected jobs")
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            services.backup_job_cancel(
                job=job, acting_user=request.user, reason="cancelled by staff"
            )
        messages.success(request, "Cancelled the active jobs among those selected.")

    @admin.action(description="Resume jobs paused for re-authorization")
    def resume_jobs(self, request, queryset):
        for job in queryset:
            services.backup_job_resume(job=job, acting_user=request.user)
        messages.success(request, "Resumed the paused jobs among those selected.")


@admin.register(Snapshot)
class SnapshotAdmin(OpsPermissions, admin.ModelAdmin):
    list_display = ("id", "site", "kind", "status", "completed_at", "bytes_total", "points_spent")
    list_filter = ("status", "kind")
    search_fields = ("site__url", "site__cloud_id", "id")
    readonly_fields = [f.name for f in Snapshot._meta.fields]
    actions = ["verify_quick", *admin_actions.SNAPSHOT_ACTIONS]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Verify (quick)")
    def verify_quick(self, request, queryset):
        for snap in queryset:
            problems = services.snapshot_verify(snapshot=snap, acting_user=request.user)
            level = messages.ERROR if problems else messages.SUCCESS
            messages.add_message(
                request,
                level,
                f"{snap.id}: {len(problems)} problem(s)"
                + (f"; first: {problems[0]}" if problems else ""),
            )


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
    list_display = ("site", *services.SCHEDULE_SETTINGS)
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
