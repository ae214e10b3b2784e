"""manage.py backup_site SITE [--full] [--wait]"""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError

from backups import selectors, services
from backups.models import BackupJob
from tenants.models import JiraSite


class Command(BaseCommand):
    help = (
        "Queue a backup of one Jira site (by id, cloud id, URL or name). Incremental unless "
        "--full or the site has no snapshot yet; a job already active for the site is reused. "
        "--wait follows it to the end with a progress bar (on a terminal) and exits non-zero "
        "unless it succeeded."
    )

    def add_arguments(self, parser):
        parser.add_argument("site")
        parser.add_argument("--full", action="store_true", help="a full backup")
        parser.add_argument("--wait", action="store_true", help="follow the job until it ends")
        parser.add_argument(
            "--poll", type=float, default=1.0, help="seconds between progress updates"
        )

    def handle(self, *args, **opts):
        try:
            site = selectors.site_by_reference(opts["site"])
        except JiraSite.DoesNotExist as exc:
            raise CommandError(str(exc)) from None
        kind = BackupJob.Kind.FULL if opts["full"] else BackupJob.Kind.INCREMENTAL
        try:
            job, created = services.backup_job_enqueue(site=site, kind=kind, acting_user=None)
        except services.BackupRefused as exc:
            raise CommandError(str(exc)) from None
        verb = "queued" if created else "already active:"
        self.stdout.write(f"{verb} {job.kind} backup job {job.pk} for {site.url}")
        if not opts["wait"]:
            return
        job = self._follow(job, opts["poll"])
        summary = f"job {job.pk} {job.status}: {job.objects_done} issues, {job.points_spent} points"
        if job.status != BackupJob.Status.SUCCEEDED:
            raise CommandError(f"{summary}; reason: {job.status_reason or 'none given'}")
        self.stdout.write(self.style.SUCCESS(summary + f", snapshot {job.snapshot_id}"))

    def _follow(self, job: BackupJob, poll: float) -> BackupJob:
        bar = None
        if sys.stdout.isatty() and self.stdout._out is sys.stdout:
            from tqdm import tqdm

            bar = tqdm(unit="issue", dynamic_ncols=True)
        last = None
        try:
            while True:
                job.refresh_from_db()
                progress = selectors.job_progress(job)
                if bar is not None:
                    bar.total = job.objects_total
                    bar.n = job.objects_done
                    bar.set_postfix_str(f"{job.points_spent} pts | {job.current_step[:40]}")
                    bar.refresh()
                elif progress != last:
                    total = job.objects_total if job.objects_total is not None else "?"
                    self.stdout.write(
                        f"{job.status}: {job.objects_done}/{total} issues, "
                        f"{job.points_spent} points, step {job.current_step or '-'}"
                    )
                last = progress
                if job.status not in ("queued", "running"):
                    return job
                time.sleep(poll)
        finally:
            if bar is not None:
                bar.close()
