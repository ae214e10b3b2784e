"""manage.py verify_snapshots [--site SITE] [--deep]"""

from __future__ import annotations

from backups import selectors, services
from backups.models import Snapshot
from kit.commands import OperatorCommand
from kit.outcomes import counted


class Command(OperatorCommand):
    help = (
        "Verify committed snapshots (all sites, or --site). Quick: every manifest reads and "
        "every object it names is present with its size. --deep: also re-read and re-hash "
        "every object and count every shard's records. Lists each problem (naming the object; "
        "in a table only the snapshots with problems, unless -v 2). Records the verification "
        "on each snapshot. Exit 0 no problem, 1 problems found, 2 usage or unknown site."
    )
    # It records when each snapshot was last verified; there is nothing to rehearse.
    writes = False

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--site", help="Only this site: id, cloud id, URL or name.")
        parser.add_argument("--deep", action="store_true", help="Re-read and re-hash everything.")

    def handle(self, *args, **options):
        snapshots = Snapshot.objects.filter(status=Snapshot.Status.COMPLETE).select_related("site")
        if options["site"]:
            site = self.find(selectors.site_by_reference, options["site"], "site")
            snapshots = snapshots.filter(site=site)
        snapshots = snapshots.order_by("site_id", "completed_at")
        rows = []
        with self.progress(snapshots.count(), unit="snapshot") as update:
            for snap in snapshots:
                problems = services.snapshot_verify(snapshot=snap, deep=options["deep"])
                rows.append(
                    {
                        "snapshot": str(snap.pk),
                        "site": snap.site.url,
                        "completed_at": snap.completed_at.strftime("%Y-%m-%d %H:%M"),
                        "problems": len(problems),
                        "detail": "; ".join(str(p) for p in problems),
                    }
                )
                if update:
                    update(1)
        shown = rows
        if not self.machine_readable(options) and options["verbosity"] < 2:
            shown = [row for row in rows if row["problems"]]
        self.write_rows(shown, options)
        mode = "deep" if options["deep"] else "quick"
        total = sum(row["problems"] for row in rows)
        if total:
            bad = sum(1 for row in rows if row["problems"])
            raise self.failure(
                f"{mode} verification: {counted(total, 'problem')} in "
                f"{counted(bad, 'snapshot')} of {len(rows)}"
            )
        self.summary(f"{mode} verification: {counted(len(rows), 'snapshot')}, no problems", options)
