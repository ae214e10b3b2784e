"""manage.py verify_snapshots [--site SITE] [--deep]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from backups import selectors, services
from backups.models import Snapshot
from tenants.models import JiraSite


class Command(BaseCommand):
    help = (
        "Verify committed snapshots (all sites, or --site). Quick: every manifest reads and "
        "every object it names is present with its size. --deep: also re-read and re-hash "
        "every object and count every shard's records. Prints each problem (naming the "
        "object) and exits non-zero if there is any."
    )

    def add_arguments(self, parser):
        parser.add_argument("--site", help="site id, cloud id, URL or name")
        parser.add_argument("--deep", action="store_true")

    def handle(self, *args, **opts):
        snapshots = Snapshot.objects.filter(status=Snapshot.Status.COMPLETE).select_related("site")
        if opts["site"]:
            try:
                site = selectors.site_by_reference(opts["site"])
            except JiraSite.DoesNotExist as exc:
                raise CommandError(str(exc)) from None
            snapshots = snapshots.filter(site=site)
        total = 0
        checked = 0
        for snap in snapshots.order_by("site_id", "completed_at"):
            problems = services.snapshot_verify(snapshot=snap, deep=opts["deep"])
            checked += 1
            total += len(problems)
            for problem in problems:
                self.stderr.write(str(problem))
        mode = "deep" if opts["deep"] else "quick"
        if total:
            raise CommandError(f"{mode} verification: {total} problem(s) in {checked} snapshot(s)")
        self.stdout.write(f"{mode} verification: {checked} snapshot(s), no problems")
