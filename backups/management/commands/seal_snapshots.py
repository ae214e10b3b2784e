"""manage.py seal_snapshots [--tenant SLUG] [--site SITE] [--dry-run]"""

from __future__ import annotations

from backups.sealing import seal_site
from kit.outcomes import counted
from tenants.commands import SiteCommand
from tenants.models import JiraSite


class Command(SiteCommand):
    help = (
        "Seal the snapshots written before snapshot encryption, in place: every plain object "
        "is sealed with the tenant's snapshot key and read back, each manifest is rewritten "
        "as format 3, then the plain copies are deleted. Resumable; run twice, it finds "
        "nothing to do. Exit 0 done, 1 a snapshot could not be sealed (named; it keeps its "
        "old form), 2 usage or unknown tenant/site."
    )

    def handle(self, *args, **options):
        sites = self.narrow(
            JiraSite.objects.order_by("pk"), options, tenant_path="tenant", site_path="pk"
        ).select_related("tenant")
        rows, failed = [], []
        with self.progress(sites.count(), unit="site") as update:
            for site in sites:
                report = seal_site(site=site, dry_run=options["dry_run"])
                rows.append(
                    {
                        "site": report.site,
                        "sealed": len(report.snapshots_sealed),
                        "already_sealed": report.snapshots_already,
                        "objects_sealed": report.objects_sealed,
                        "plain_deleted": report.plain_deleted,
                        "plain_left_for_pruning": report.plain_left,
                        "problems": "; ".join(f"{k}: {v}" for k, v in report.problems.items()),
                    }
                )
                failed += [f"{report.site} {k}: {v}" for k, v in report.problems.items()]
                if update:
                    update(1)
        self.write_rows(rows, options)
        sealed = sum(row["sealed"] for row in rows)
        text = (
            f"{counted(sealed, 'snapshot')} sealed, "
            f"{counted(sum(r['objects_sealed'] for r in rows), 'object')} sealed, "
            f"{counted(sum(r['plain_deleted'] for r in rows), 'plain copy', 'plain copies')} "
            f"deleted on {counted(len(rows), 'site')}"
        )
        if failed:
            raise self.failure(f"{text}; not sealed: {'; '.join(failed)}")
        self.summary(text, options)
