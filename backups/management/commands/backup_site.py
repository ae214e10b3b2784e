"""manage.py backup_site SITE [--full] [--wait] [--dry-run]"""

from __future__ import annotations

import time

from backups import selectors, services
from backups.models import BackupJob
from kit.commands import OperatorCommand, rolled_back
from kit.outcomes import counted


class Command(OperatorCommand):
    help = (
        "Queue a backup of one Jira site (by id, cloud id, URL or name). Incremental unless "
        "--full or the site has no snapshot yet; a job already active for the site is reused. "
        "--wait follows it to the end (a progress bar on a terminal, progress lines on stderr "
        "otherwise). --dry-run runs every check of the real request and queues nothing. "
        "Exit 0 queued (or succeeded, with --wait), 1 refused or the job did not succeed, "
        "2 usage or unknown site."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("site", help="The site: id, cloud id, URL or name.")
        parser.add_argument("--full", action="store_true", help="A full backup.")
        parser.add_argument("--wait", action="store_true", help="Follow the job until it ends.")
        parser.add_argument(
            "--poll", type=float, default=1.0, help="Seconds between progress updates (1)."
        )

    def handle(self, *args, **options):
        if options["wait"] and options["dry_run"]:
            raise self.usage_error("--wait follows a real job: leave out --dry-run")
        site = self.find(selectors.site_by_reference, options["site"], "site")
        kind = BackupJob.Kind.FULL if options["full"] else BackupJob.Kind.INCREMENTAL
        try:
            if options["dry_run"]:
                # The real request, undone: every refusal the service would give, and the kind
                # it would choose (full when the site has no snapshot yet).
                with rolled_back():
                    job, created = services.backup_job_enqueue(
                        site=site, kind=kind, acting_user=None
                    )
            else:
                job, created = services.backup_job_enqueue(site=site, kind=kind, acting_user=None)
        except services.BackupRefused as exc:
            raise self.failure(f"refused: {exc}") from None
        if options["dry_run"]:
            result = "would be queued" if created else f"already active: job {job.pk}"
            self._write_row(self._row(job, site, result, with_id=not created), options)
            self.summary(
                f"{'an' if job.kind == BackupJob.Kind.INCREMENTAL else 'a'} {job.kind} backup "
                f"of {site.url} would be queued"
                if created
                else f"backup job {job.pk} of {site.url} is already {job.status}: nothing to queue",
                options,
            )
            return
        self.summary(
            f"queued {job.kind} backup job {job.pk} for {site.url}"
            if created
            else f"backup job {job.pk} for {site.url} is already {job.status}",
            options,
        )
        if not options["wait"]:
            self._write_row(
                self._row(job, site, "queued" if created else "already active"), options
            )
            return
        job = self._follow(job, options["poll"])
        self._write_row(self._row(job, site, job.status), options)
        summary = (
            f"job {job.pk} {job.status}: {counted(job.objects_done, 'issue')}, "
            f"{job.points_spent} points"
        )
        if job.status != BackupJob.Status.SUCCEEDED:
            raise self.failure(f"{summary}; reason: {job.status_reason or 'none given'}")
        self.summary(f"{summary}, snapshot {job.snapshot_id}", options, style=self.style.SUCCESS)

    def _write_row(self, row: dict, options) -> None:
        # One job: the summary line says it all under a table; json/csv get the row.
        if self.machine_readable(options):
            self.write_rows([row], options)

    def _row(self, job: BackupJob, site, result: str, *, with_id: bool = True) -> dict:
        return {
            "job": job.pk if with_id else "",
            "site": site.url,
            "kind": job.kind,
            "status": job.status if with_id else "",
            "issues": job.objects_done,
            "points": job.points_spent,
            "snapshot": str(job.snapshot_id) if job.status == BackupJob.Status.SUCCEEDED else "",
            "result": result,
        }

    def _follow(self, job: BackupJob, poll: float) -> BackupJob:
        """Until the job ends: a tqdm bar on a terminal, else a line on stderr per change."""
        bar = None
        if self.stdout.isatty():
            from tqdm import tqdm

            bar = tqdm(unit="issue", dynamic_ncols=True, file=self.stderr._out)
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
                    self.stderr.write(
                        f"{job.status}: {job.objects_done}/{total} issues, "
                        f"{job.points_spent} points, step {job.current_step or '-'}",
                        style_func=lambda s: s,
                    )
                last = progress
                if job.status not in ("queued", "running"):
                    return job
                time.sleep(poll)
        finally:
            if bar is not None:
                bar.close()
