"""manage.py compact_snapshots [--site SITE] [--wait] [--dry-run]"""

from __future__ import annotations

import time

from backups import compaction, selectors
from backups.exceptions import BackupRefused
from backups.models import CompactionJob, Snapshot
from kit.commands import OperatorCommand, rolled_back
from kit.outcomes import BulkOutcome


class Command(OperatorCommand):
    help = (
        "Compact incremental chains into synthetic full snapshots, from storage alone (no call "
        "to Atlassian): the newest snapshot of --site, or of every site whose newest snapshot "
        "merges BACKUPS_COMPACT_AFTER_LAYERS layers or more (what beat does hourly). A "
        "compaction already active for a site is reused. --wait runs the compactions in this "
        "process to their end. --dry-run runs every check and queues nothing. Exit 0 queued "
        "(or succeeded, with --wait), 1 some refused or failed, 2 usage or unknown site."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--site", help="Only this site: id, cloud id, URL or name.")
        parser.add_argument(
            "--wait", action="store_true", help="Run the compactions here until they end."
        )

    def handle(self, *args, **options):
        if options["wait"] and options["dry_run"]:
            raise self.usage_error("--wait runs real compactions: leave out --dry-run")
        if options["site"]:
            site = self.find(selectors.site_by_reference, options["site"], "site")
            newest = (
                Snapshot.objects.filter(site=site, status=Snapshot.Status.COMPLETE)
                .order_by(*selectors.newest_first())
                .first()
            )
            if newest is None:
                raise self.failure(f"refused: {site.url} has no complete snapshot")
            snapshots = [newest]
        else:
            snapshots = compaction.compactions_due()
        outcome = BulkOutcome("compactions queued", one="compaction queued")
        jobs: list[tuple[str, CompactionJob]] = []
        for snapshot in snapshots:
            item = f"{snapshot.site.url} {snapshot}"
            try:
                if options["dry_run"]:
                    with rolled_back():
                        job, created = compaction.compaction_enqueue(
                            snapshot=snapshot, acting_user=None
                        )
                else:
                    job, created = compaction.compaction_enqueue(
                        snapshot=snapshot, acting_user=None, enqueue=not options["wait"]
                    )
            except BackupRefused as exc:
                outcome.fail(item, str(exc))
                continue
            if not created:
                outcome.skip(item, f"compaction {job.pk} of the site is already {job.status}")
                continue
            outcome.ok(item)
            if not options["dry_run"]:
                jobs.append((item, job))
        if options["wait"]:
            outcome = self._run(jobs, outcome)
        self.finish(outcome, options)

    def _run(self, jobs: list[tuple[str, CompactionJob]], queued: BulkOutcome) -> BulkOutcome:
        """Run each queued compaction here, slice after slice, until it ends."""
        outcome = BulkOutcome("snapshots compacted", one="snapshot compacted")
        outcome.skipped, outcome.failed = queued.skipped, queued.failed
        with self.progress(len(jobs), unit="compaction") as update:
            for item, job in jobs:
                for _ in range(10_000):
                    state = compaction.run_compaction(job.pk).state
                    job.refresh_from_db()
                    if job.status not in (CompactionJob.Status.QUEUED, "running"):
                        break
                    if state == "busy":
                        time.sleep(0.5)
                if job.status == CompactionJob.Status.SUCCEEDED:
                    outcome.ok(f"{item} -> {job.snapshot_id}")
                else:
                    outcome.fail(item, f"compaction {job.pk} {job.status}: {job.status_reason}")
                if update:
                    update(1)
        return outcome
