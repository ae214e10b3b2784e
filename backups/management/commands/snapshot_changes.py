"""manage.py snapshot_changes --site SITE [--from SNAPSHOT] [--to SNAPSHOT|now]
[--format table|json|csv]"""

from __future__ import annotations

from backups import selectors
from backups.changes.report import (
    COLUMNS,
    ChangesRefused,
    SnapshotUnreadable,
    newest_snapshot,
    site_changes,
)
from backups.restore import selectors as restore_selectors
from kit.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "What changed on a site (by id, cloud id, URL or name) between two of its snapshots, "
        "or between a snapshot and the site now: issues created, deleted and modified (field "
        "by field, and comments, worklogs, attachments and remote links added or deleted), "
        "and configuration (workflows, schemes, screens, fields and their options, filters, "
        "dashboards, boards...) created, deleted and changed. --from defaults to the site's "
        "newest snapshot, --to to 'now' (which reads the site live and spends points: its "
        "configuration and the issues updated since the snapshot). Read-only. "
        "Exit 0 done, 1 a snapshot or the site cannot be read, 2 usage or unknown site/snapshot."
    )
    writes = False

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--site", required=True, help="The site.")
        parser.add_argument(
            "--from", dest="before", default="", help="The earlier snapshot (id or 8+ chars)."
        )
        parser.add_argument(
            "--to", dest="after", default="now", help="The later snapshot, or 'now' (default)."
        )

    def handle(self, *args, **options):
        site = self.find(selectors.site_by_reference, options["site"], "site")
        if options["before"]:
            before = self._snapshot(options["before"], site)
        else:
            before = self.find(newest_snapshot, site, "snapshot")
        after = None if options["after"] == "now" else self._snapshot(options["after"], site)
        try:
            report = site_changes(before=before, after=after)
        except ChangesRefused as exc:
            raise self.usage_error(str(exc)) from None
        except SnapshotUnreadable as exc:
            self.write_rows([], options, COLUMNS)
            raise self.failure(f"cannot compare: {exc}") from None
        if options["format"] == "json":
            self.write_document(report.as_json(), options)
        else:
            self.write_rows(report.rows(), options, COLUMNS)
        self.summary(report.summary(), options)

    def _snapshot(self, reference: str, site):
        snapshot = self.find(restore_selectors.snapshot_by_reference, reference, "snapshot")
        if snapshot.site_id != site.pk:
            raise self.usage_error(f"snapshot {snapshot.pk} is not a snapshot of {site.url}")
        return snapshot
