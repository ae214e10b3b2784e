"""manage.py rollback_issues SNAPSHOT (--issue KEY ... | --project KEY ... | --jql JQL |
--changed-from T1 --changed-to T2 [--changed-by ACCOUNT]) [--remove-added] [--dry-run]
[--inline] [--format table|json|csv]"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from backups.exceptions import RollbackRefused
from backups.jobs.dry_run import rolled_back_keeping_tokens
from backups.restore import selectors as restore_selectors
from backups.rollback.executor import run_rollback
from backups.rollback.models import RollbackJob
from backups.rollback.report import ROW_COLUMNS, rollback_report, rollback_rows
from backups.rollback.services import rollback_job_create
from kit.commands import OperatorCommand

ACTIVE = (RollbackJob.Status.QUEUED, RollbackJob.Status.RUNNING)


class Command(OperatorCommand):
    help = (
        "Roll issues of a snapshot's site back to the snapshot (by id, or an unambiguous "
        "prefix of 8+ characters). Scope: --issue KEY (repeatable), --project KEY "
        "(repeatable), --jql JQL, or --changed-from T1 --changed-to T2 (ISO 8601, UTC unless "
        "a zone is given: issues whose changelog changed in that window), optionally "
        "--changed-by ACCOUNT_ID; --project narrows a window; no scope: every project of the "
        "snapshot. Field values (system and custom), "
        "status (through transitions), parent, and the comments, worklogs, attachments, links "
        "and remote links the issue lost are brought back; what was added since is left alone "
        "unless --remove-added. --dry-run prints the per-issue diff (field: now -> snapshot) "
        "and writes nothing (to Jira or the database). "
        "Without it the roll-back is queued for the workers; --inline runs it in this process. "
        "Exit 0 done/queued, 1 refused or not succeeded, 2 usage or unknown snapshot."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("snapshot", help="The snapshot id (or 8+ characters of it).")
        parser.add_argument("--issue", action="append", default=[], nargs="+", help="Issue keys.")
        parser.add_argument("--project", action="append", default=[], help="A project key.")
        parser.add_argument("--jql", default="", help="The issues a JQL query finds.")
        parser.add_argument("--changed-from", default="", help="Start of the window (T1).")
        parser.add_argument("--changed-to", default="", help="End of the window (T2).")
        parser.add_argument(
            "--changed-by", default="", help="Only changes by this Atlassian account id."
        )
        parser.add_argument(
            "--remove-added",
            action="store_true",
            help="Also delete comments, worklogs, attachments, links and remote links added "
            "after the snapshot.",
        )
        parser.add_argument("--inline", action="store_true", help="Run in this process.")

    def handle(self, *args, **options):
        snapshot = self.find(
            restore_selectors.snapshot_by_reference, options["snapshot"], "snapshot"
        )
        request = {
            "snapshot": snapshot,
            "issue_keys": [key for group in options["issue"] for key in group],
            "project_keys": options["project"],
            "jql": options["jql"],
            "changed_from": self._moment(options["changed_from"], "--changed-from"),
            "changed_to": self._moment(options["changed_to"], "--changed-to"),
            "changed_by": options["changed_by"],
            "remove_added": options["remove_added"],
            "acting_user": None,
        }
        if options["dry_run"]:
            # The diff, then rolled back with everything it wrote (the job, its rows, its audit
            # event): the command's dry run keeps nothing (the admin's keeps its diff).
            with rolled_back_keeping_tokens(snapshot.site):
                job = self._run_inline(self._create(request, dry_run=True, enqueue=False))
                report, rows = rollback_report(job), rollback_rows(job)
            self._report(job, report, rows, options)
            return
        job = self._create(request, dry_run=False, enqueue=not options["inline"])
        if not options["inline"]:
            self.write_rows([_row(job)], options)
            self.summary(
                f"roll-back job {job.pk} queued: {job.site.url} to snapshot {snapshot.pk}; "
                "follow it in the admin (Roll-back jobs)",
                options,
            )
            return
        job = self._run_inline(job)
        self._report(job, rollback_report(job), rollback_rows(job), options)

    def _create(self, request: dict, *, dry_run: bool, enqueue: bool) -> RollbackJob:
        try:
            return rollback_job_create(**request, dry_run=dry_run, enqueue=enqueue)
        except RollbackRefused as exc:
            raise self.failure(f"refused: {exc}") from None

    def _moment(self, text: str, option: str) -> datetime | None:
        if not text:
            return None
        try:
            value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise self.usage_error(
                f"{option}: {text!r} is not a date and time (e.g. 2026-03-01T12:00Z)"
            ) from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def _run_inline(self, job: RollbackJob) -> RollbackJob:
        while True:
            outcome = run_rollback(job.pk)
            job.refresh_from_db()
            if job.status not in ACTIVE:
                return job
            if outcome.state in ("requeue", "not_ready", "busy"):
                time.sleep(min(max(outcome.countdown, 0.2), 60))

    def _report(self, job: RollbackJob, report: dict, rows: list[dict], options) -> None:
        kind = "dry run" if job.dry_run else f"roll-back job {job.pk}"
        if options["format"] == "json":
            self.write_document(report, options)
        else:
            self.write_rows(rows, options, ROW_COLUMNS)
        if job.status != RollbackJob.Status.SUCCEEDED:
            raise self.failure(f"{kind} {job.status}: {job.status_reason}")
        self.summary(f"{kind}: {job.status_reason} ({job.points_spent} points)", options)


def _row(job: RollbackJob) -> dict:
    return {"job": job.pk, "site": job.site.url, "scope": job.scope, "status": job.status}
