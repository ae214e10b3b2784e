"""manage.py restore_snapshot SNAPSHOT --to SITE [--project KEY] [--issue KEY ...] [--dry-run]
[--on-damaged stop|skip] [--format table|json]"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from backups import selectors
from backups.models import Snapshot
from backups.restore import selectors as restore_selectors
from backups.restore.executor import run_restore
from backups.restore.models import RestoreJob
from backups.restore.report import restore_report
from backups.restore.services import RestoreRefused, restore_job_create
from tenants.models import JiraSite


class Command(BaseCommand):
    help = (
        "Restore a snapshot (by id) into a site (by id, cloud id, URL or name): the whole site, "
        "--project KEY (repeatable) or --issue KEY (repeatable). --dry-run prints what would be "
        "created or skipped and why, and writes nothing to the site. Without --dry-run the "
        "restore is queued for the workers; --inline runs it in this process instead. Issues "
        "already restored into the site are never created again. Exit code 1 when refused or "
        "when the restore did not succeed."
    )

    def add_arguments(self, parser):
        parser.add_argument("snapshot")
        parser.add_argument("--to", required=True, dest="site", help="the target site")
        parser.add_argument("--project", action="append", default=[], help="a project key")
        parser.add_argument("--issue", action="append", default=[], nargs="+", help="issue keys")
        parser.add_argument("--dry-run", action="store_true", help="plan only; write nothing")
        parser.add_argument(
            "--user-fallback", default="", help="account id for users unknown in the target"
        )
        parser.add_argument(
            "--no-create-projects", action="store_true", help="never create missing projects"
        )
        parser.add_argument("--inline", action="store_true", help="run in this process")
        parser.add_argument(
            "--on-damaged",
            choices=[c for c, _label in RestoreJob.OnDamaged.choices],
            default=RestoreJob.OnDamaged.STOP,
            help="damaged objects in the snapshot: stop before writing anything (default), or "
            "skip them and restore the rest",
        )
        parser.add_argument(
            "--format",
            choices=("table", "json"),
            default="table",
            help="the report as lines (default) or as JSON (the admin shows the same report)",
        )
        parser.add_argument("--json", action="store_true", help="same as --format json")

    def handle(self, *args, **opts):
        try:
            snapshot = restore_selectors.snapshot_by_reference(opts["snapshot"])
            site = selectors.site_by_reference(opts["site"])
        except (Snapshot.DoesNotExist, JiraSite.DoesNotExist) as exc:
            raise CommandError(str(exc)) from None
        issues = [key for group in opts["issue"] for key in group]
        inline = opts["dry_run"] or opts["inline"]
        try:
            job = restore_job_create(
                snapshot=snapshot,
                target_site=site,
                project_keys=opts["project"],
                issue_keys=issues,
                dry_run=opts["dry_run"],
                user_fallback=opts["user_fallback"],
                create_projects=not opts["no_create_projects"],
                on_damaged=opts["on_damaged"],
                acting_user=None,
                enqueue=not inline,
            )
        except RestoreRefused as exc:
            raise CommandError(str(exc)) from None
        kind = "dry run" if job.dry_run else "restore"
        self.stdout.write(
            f"{kind} job {job.pk}: snapshot {snapshot.pk} -> {site.url} ({job.scope})"
        )
        if not inline:
            self.stdout.write("queued; follow it in the admin (Restore jobs)")
            return
        for _ in range(100000):
            outcome = run_restore(job.pk)
            job.refresh_from_db()
            if job.status not in (RestoreJob.Status.QUEUED, RestoreJob.Status.RUNNING):
                break
            if outcome.state in ("requeue", "not_ready", "busy"):
                import time

                time.sleep(min(max(outcome.countdown, 0.2), 60))
        report = restore_report(job)
        if opts["json"] or opts["format"] == "json":
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True, default=str))
        else:
            for line in report["lines"]:
                self.stdout.write(line)
        summary = (
            f"{kind} job {job.pk} {job.status}: {job.status_reason} ({job.points_spent} points)"
        )
        if job.status != RestoreJob.Status.SUCCEEDED:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))
