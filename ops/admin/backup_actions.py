"""Staff actions of the backups domain: run a backup now (on tenants and sites) and start a
restore (on snapshots). Same rules as ``ops.admin.tenant_actions``: a confirmation page, a
permission per action, one service call per row."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from backups.restore.services import RestoreRefused, restore_job_create
from kit.outcomes import BulkOutcome
from ops import bulk
from ops.actions import confirm_then_run


@admin.action(permissions=["run_backups"], description="Run a backup now")
def run_backups(modeladmin, request, queryset):
    return confirm_then_run(
        modeladmin,
        request,
        queryset,
        title="Run backups now",
        explanation=(
            "An incremental backup is queued for every site behind the selection (a full one "
            "when the site has no snapshot yet). Sites with a backup already running are skipped."
        ),
        perform=lambda qs, data: bulk.run_backups(bulk.sites_for(qs), acting_user=request.user),
    )


class RestoreForm(forms.Form):
    dry_run = forms.BooleanField(
        required=False,
        initial=True,
        label="Dry run (plan only, write nothing to Jira)",
    )


def start_restores(snapshots, *, dry_run: bool, acting_user, request=None) -> BulkOutcome:
    """Restore each snapshot into its own site, whole (``backups.restore.services``)."""

    outcome = BulkOutcome(
        "restore dry runs queued" if dry_run else "restores queued",
        one="restore dry run queued" if dry_run else "restore queued",
    )
    for snapshot in snapshots:
        label = f"{snapshot.pk} ({snapshot.site.url})"
        try:
            restore_job_create(
                snapshot=snapshot,
                target_site=snapshot.site,
                dry_run=dry_run,
                acting_user=acting_user,
            )
        except RestoreRefused as exc:
            outcome.fail(label, str(exc))
        else:
            outcome.ok(label)
    return outcome


@admin.action(permissions=["restore"], description="Restore into its site")
def start_restore(modeladmin, request, queryset):
    return confirm_then_run(
        modeladmin,
        request,
        queryset,
        title="Restore snapshots",
        explanation=(
            "Each selected snapshot is restored, whole, into the site it was taken from. Untick "
            "'dry run' only when the plan was checked."
        ),
        form_class=RestoreForm,
        danger=True,
        perform=lambda qs, data: start_restores(
            qs.select_related("site__tenant"),
            dry_run=data.get("dry_run", False),
            acting_user=request.user,
            request=request,
        ),
    )


BACKUP_ACTIONS = [run_backups]
SNAPSHOT_ACTIONS = [start_restore]
