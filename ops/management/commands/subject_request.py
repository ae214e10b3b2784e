"""manage.py subject_request --tenant SLUG --account ID [--export FILE | --redact] [--dry-run]

A data-subject request (issue 22) against one tenant's snapshots: by default the snapshots
holding the Jira account's data (records naming it, per snapshot); ``--export FILE`` writes that
data to FILE as JSON; ``--redact`` rewrites the snapshots without the person's name and e-mail
(new objects, manifests re-pointed, old objects pruned). Export and redaction are audited.
"""

from __future__ import annotations

import json
from pathlib import Path

from backups.models import Snapshot
from backups.subjects import subject_export, subject_find, subject_redact
from kit.commands import OperatorCommand, moment
from tenants.exceptions import DomainError
from tenants.models import Tenant


class Command(OperatorCommand):
    help = (
        "Data-subject requests: list the snapshots of a tenant holding a Jira account's data "
        "(default), --export FILE to write that data as JSON, or --redact to remove the "
        "person's name and e-mail from every snapshot of the tenant. Export and redaction are "
        "audited. Exit 0 done, 1 refused (named), 2 usage or unknown tenant."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--tenant", metavar="SLUG", required=True, help="The tenant.")
        parser.add_argument(
            "--account", metavar="ID", required=True, help="The person's Jira account id."
        )
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--export", metavar="FILE", help="Write the person's data here.")
        action.add_argument(
            "--redact", action="store_true", help="Remove the person's name and e-mail."
        )

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise self.usage_error(f"unknown tenant: {options['tenant']}")
        account = options["account"].strip()
        if not account:
            raise self.usage_error("--account needs a Jira account id")
        export = Path(options["export"]) if options["export"] else None
        if export is not None and not export.parent.is_dir():
            raise self.usage_error(f"no such directory for the export: {export.parent}")
        try:
            report, names = subject_find(tenant=tenant, account_id=account)
        except DomainError as exc:
            raise self.failure(str(exc)) from None
        self.write_rows(_rows(report.snapshots), options, _COLUMNS)
        held = _plural(len(report.snapshots), "snapshot")
        if options["dry_run"] or not (export or options["redact"]):
            what = "exported" if export else "redacted" if options["redact"] else None
            tail = f"; they would be {what}" if what else ""
            self.summary(f"{held} of {tenant.slug} hold data of {account}{tail}", options)
            return
        try:
            if export is not None:
                document = subject_export(tenant=tenant, account_id=account, acting_user=None)
                export.write_text(json.dumps(document, default=str, indent=2))
                self.summary(f"data of {account} in {held} written to {export}", options)
                return
            done = subject_redact(tenant=tenant, account_id=account, acting_user=None)
        except DomainError as exc:
            raise self.failure(str(exc)) from None
        self.summary(
            f"{account} redacted from {held} of {tenant.slug}: "
            f"{_plural(done.shards_rewritten, 'shard')} rewritten, "
            f"{_plural(done.objects_deleted, 'old object')} deleted"
            + (f" ({len(names)} name(s) and e-mail(s) removed)" if names else ""),
            options,
        )


_COLUMNS = ("snapshot", "site", "completed_at", "records")


def _rows(per_snapshot: dict[str, int]) -> list[dict]:
    snapshots = Snapshot.objects.filter(pk__in=list(per_snapshot)).select_related("site")
    return [
        {
            "snapshot": str(snap.pk),
            "site": snap.site.url,
            "completed_at": moment(snap.completed_at),
            "records": per_snapshot[str(snap.pk)],
        }
        for snap in sorted(snapshots, key=lambda s: s.completed_at)
    ]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
