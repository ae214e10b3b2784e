import csv
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone

from kit.commands import OperatorCommand
from ops.compliance import ComplianceReport, build_compliance_report, parse_since

TABLE_ROWS = 25  # evidence rows per line in the table format (json/csv carry them all)


class Command(OperatorCommand):
    help = (
        "Compliance evidence: stored legacy secrets, legacy-credential calls since "
        "LEGACY_CUTOFF (and per week before it), live sites and their credential, vendor-app "
        "points per hour against the quota, customer-owned OAuth apps still referenced, and "
        "every deviation by tenant with the admin page to act on it. Reads the outbound call "
        "ledger (atlassian.CallStat) and the tenants' tables; changes nothing. "
        "Exit status 1 when a goal line is violated (use it to gate a deploy or alert), "
        "2 on bad arguments."
    )
    writes = False

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--since",
            help="window start for ledger lines: YYYY-MM-DD or ISO date-time, UTC "
            "(default: the ledger's retention, ATLASSIAN_LEDGER_RETENTION_DAYS)",
        )

    def handle(self, *args, since=None, format="table", **options):
        now = timezone.now()
        since_at = None
        if since:
            try:
                since_at = parse_since(since)
            except ValueError as exc:
                raise self.usage_error(f"--since: {exc}") from None
            if since_at > now:
                raise self.usage_error(f"--since {since} is in the future")
        report = build_compliance_report(since=since_at, now=now)
        if format == "json":
            self.write_document(report.as_dict(), options | {"format": format})
        elif format == "csv":
            self._csv(report)
        else:
            self._table(report)
        if not report.ok:
            failed = [line.key for line in report.lines if line.ok is False]
            raise self.failure(
                f"compliance goals violated: {', '.join(failed)} "
                f"({len(report.violations)} deviations)"
            )
        if format != "table":  # the table ends with its own "Result:" line
            self.summary("compliant: every goal line is met", options | {"format": format})

    # -- renderers -------------------------------------------------------------------------

    def _table(self, report: ComplianceReport) -> None:
        w = self.stdout.write
        w(
            f"Compliance report, {report.since:%Y-%m-%d %H:%M} to "
            f"{report.generated_at:%Y-%m-%d %H:%M} UTC; legacy cutoff "
            f"{report.cutoff:%Y-%m-%d %H:%M} UTC ({'passed' if report.cutoff_passed else 'ahead'})"
        )
        for line in report.lines:
            w("")
            goal = f" — goal: {line.goal}" if line.goal else ""
            w(f"[{line.status}] {line.title}{goal}")
            w(f"  figure: {line.figure}" + (f"; {line.note}" if line.note else ""))
            rows = line.rows
            if line.key == "vendor_quota":
                rows = rows[-TABLE_ROWS:]  # the most recent hours
            shown = rows[:TABLE_ROWS]
            if shown:
                w("  " + " | ".join(line.columns))
                for row in shown:
                    w("  " + " | ".join(_cell(row.get(c)) for c in line.columns))
            if len(line.rows) > len(shown):
                w(f"  ... {len(line.rows) - len(shown)} more rows (--format json or csv)")
            if line.evidence_url:
                w(f"  evidence: {_absolute(line.evidence_url)}")
        w("")
        if report.deviations:
            w(f"Deviations ({len(report.violations)} violations):")
            for d in report.deviations:
                w(f"  [{d.severity}] {d.tenant} — {d.subject}: {d.message}")
                if d.url:
                    w(f"      act: {_absolute(d.url)}")
        w(f"Result: {'compliant' if report.ok else 'NOT compliant'}")

    def _csv(self, report: ComplianceReport) -> None:
        writer = csv.writer(self.stdout)
        writer.writerow(["record", "line", "status", "tenant", "subject", "value", "detail", "url"])
        for line in report.lines:
            writer.writerow(
                [
                    "line",
                    line.key,
                    line.status,
                    "",
                    line.title,
                    line.figure,
                    line.note,
                    _absolute(line.evidence_url),
                ]
            )
            for row in line.rows:
                detail = "; ".join(f"{c}={_cell(row.get(c))}" for c in line.columns)
                writer.writerow(
                    ["evidence", line.key, "", row.get("tenant", ""), "", "", detail, ""]
                )
        for d in report.deviations:
            writer.writerow(
                [
                    "deviation",
                    d.line,
                    d.severity,
                    d.tenant,
                    d.subject,
                    "",
                    d.message,
                    _absolute(d.url),
                ]
            )


def _cell(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    if value is None:
        return ""
    return str(value)


def _absolute(path: str) -> str:
    if not path or path.startswith("http"):
        return path
    return settings.SITE_URL.rstrip("/") + path
