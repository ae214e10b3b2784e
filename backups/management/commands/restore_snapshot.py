"""manage.py restore_snapshot SNAPSHOT --to SITE [--project KEY] [--issue KEY ...] [--dry-run]
[--on-damaged stop|skip] [--format table|json]"""

from __future__ import annotations

import time

from backups import selectors
from backups.jobs.dry_run import rolled_back_keeping_tokens
from backups.restore import selectors as restore_selectors
from backups.restore.executor import run_restore
from backups.restore.models import RestoreJob
from backups.restore.report import restore_report
from backups.restore.services import RestoreRefused, restore_job_create
from kit.commands import OperatorCommand
from tenants.models import JiraSite

ACTIVE = (RestoreJob.Status.QUEUED, RestoreJob.Status.RUNNING)


class Command(OperatorCommand):
    help = (
        "Restore a snapshot (by id, or an unambiguous prefix of 8+ characters) into a site (by "
        "id, cloud id, URL or name): the whole site, --project KEY (repeatable) or --issue KEY "
        "(repeatable). --dry-run prints the plan (what would be created or skipped, and why), "
        "writes nothing to the site and keeps nothing in the database. Without it the restore "
        "is queued for the workers; --inline runs it in this process instead. Issues already "
        "restored into the site are never created again. --format json prints the plan or the "
        "job as JSON. Exit 0 queued/succeeded, 1 refused or the restore did not succeed, "
        "2 usage or unknown snapshot/site."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("snapshot", help="The snapshot id (or 8+ characters of it).")
        parser.add_argument("--to", required=True, dest="site", help="The target site.")
        parser.add_argument("--project", action="append", default=[], help="A project key.")
        parser.add_argument("--issue", action="append", default=[], nargs="+", help="Issue keys.")
        parser.add_argument(
            "--user-fallback", default="", help="Account id for users unknown in the target."
        )
        parser.add_argument(
            "--no-create-projects", action="store_true", help="Never create missing projects."
        )
        parser.add_argument("--inline", action="store_true", help="Run in this process.")
        parser.add_argument(
            "--on-damaged",
            choices=[c for c, _label in RestoreJob.OnDamaged.choices],
            default=RestoreJob.OnDamaged.STOP,
            help="Damaged objects in the snapshot: stop before writing anything (default), or "
            "skip them and restore the rest.",
        )

    def handle(self, *args, **options):
        snapshot = self.find(
            restore_selectors.snapshot_by_reference, options["snapshot"], "snapshot"
        )
        site = self.find(selectors.site_by_reference, options["site"], "site")
        request = {
            "snapshot": snapshot,
            "target_site": site,
            "project_keys": options["project"],
            "issue_keys": [key for group in options["issue"] for key in group],
            "user_fallback": options["user_fallback"],
            "create_projects": not options["no_create_projects"],
            "on_damaged": options["on_damaged"],
            "acting_user": None,
        }
        if options["dry_run"]:
            self._report(self._plan(request, site), options)
            return
        job = self._create(request, dry_run=False, enqueue=not options["inline"])
        if not options["inline"]:
            self.write_rows([_row(job)], options)
            self.summary(
                f"restore job {job.pk} queued: snapshot {snapshot.pk} -> {site.url} ({job.scope});"
                " follow it in the admin (Restore jobs)",
                options,
            )
            return
        self._report(self._run_inline(job), options)

    def _plan(self, request: dict, site: JiraSite) -> RestoreJob:
        """A dry-run job run to its end, then rolled back with everything it wrote (the job,
        its audit event): a dry run keeps nothing.

        One thing must not be lost with it: a refresh token Atlassian rotated while planning
        (the old one works for ten more minutes only). A token about to expire is refreshed
        before planning, and if a rotation still happened inside, the grant is refreshed again
        at once from the stored token, inside Atlassian's reuse interval."""
        with rolled_back_keeping_tokens(site):
            job = self._create(request, dry_run=True, enqueue=False)
            job = self._run_inline(job)
        return job

    def _create(self, request: dict, *, dry_run: bool, enqueue: bool) -> RestoreJob:
        try:
            return restore_job_create(**request, dry_run=dry_run, enqueue=enqueue)
        except RestoreRefused as exc:
            raise self.failure(f"refused: {exc}") from None

    def _run_inline(self, job: RestoreJob) -> RestoreJob:
        while True:
            outcome = run_restore(job.pk)
            job.refresh_from_db()
            if job.status not in ACTIVE:
                return job
            if outcome.state in ("requeue", "not_ready", "busy"):
                time.sleep(min(max(outcome.countdown, 0.2), 60))

    def _report(self, job: RestoreJob, options) -> None:
        kind = "dry run" if job.dry_run else f"restore job {job.pk}"
        # The same report as the admin's job page (``backups.restore.report``).
        report = restore_report(job)
        if options["format"] == "json":
            self.write_document({**_row(job), "report": report}, options)
        elif options["format"] == "csv":
            self.write_rows([_row(job)], options)
        else:
            for line in report["lines"]:
                self.stdout.write(line)
        if job.status != RestoreJob.Status.SUCCEEDED:
            raise self.failure(f"{kind} {job.status}: {job.status_reason}")
        if job.dry_run:
            self.summary(
                f"dry run: planned with {job.points_spent} points of reads; nothing was written",
                options,
            )
        else:
            self.summary(
                f"{kind} {job.status}: {job.status_reason} ({job.points_spent} points)",
                options,
                style=self.style.SUCCESS,
            )


def _row(job: RestoreJob) -> dict:
    return {
        "job": "" if job.dry_run else job.pk,
        "snapshot": str(job.snapshot_id),
        "target": job.target_site.url,
        "scope": job.scope,
        "dry_run": job.dry_run,
        "status": job.status,
        "reason": job.status_reason,
        "points": job.points_spent,
    }
