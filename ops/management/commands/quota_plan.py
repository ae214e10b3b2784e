"""The quota planner on the command line: per points pool, what the schedules need against
the pool, the backlog (runs due and running), the hours its spare points need to clear it, and
the sites whose next backup will finish after their window — a warning before they miss it.
Read-only."""

from __future__ import annotations

from kit.commands import OperatorCommand
from ops.quota import forecast


class Command(OperatorCommand):
    help = (
        "Per points pool: quota, what the schedules need, backlog, hours to clear it, and the "
        "sites that will miss (or missed) their backup window (--sites lists them). "
        "Read-only; exit 0 when every site is on time, 1 when some site will miss or missed "
        "its window (the warning), 2 on bad usage."
    )
    writes = False

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--sites",
            action="store_true",
            help="One row per site that will miss or missed its window, instead of per pool.",
        )

    def handle(self, *args, **options):
        pools = forecast()
        if options["sites"]:
            rows = [
                {
                    "pool": p.pool,
                    "site": s.url,
                    "window_ends": s.deadline.isoformat(timespec="minutes"),
                    "expected_at": s.finishes_at.isoformat(timespec="minutes")
                    if s.finishes_at
                    else "never at this rate",
                    "points": round(s.points),
                    "state": "missed" if s in p.missed else "will miss",
                }
                for p in pools
                for s in [*p.missed, *p.will_miss]
            ]
            columns = ["pool", "site", "state", "window_ends", "expected_at", "points"]
        else:
            rows = []
            for p in pools:
                hours = p.hours_to_clear
                rows.append(
                    {
                        "pool": p.pool,
                        "quota": p.quota,
                        "scheduled_capacity": p.capacity,
                        "need_per_hour": round(p.need),
                        "backlog_runs": p.runs,
                        "backlog_points": round(p.backlog_points),
                        "hours_to_clear": round(hours, 1) if hours is not None else "never",
                        "will_miss": len(p.will_miss),
                        "missed": len(p.missed),
                    }
                )
            columns = list(rows[0]) if rows else []
        self.write_rows(rows, options, columns)
        will_miss = sum(len(p.will_miss) for p in pools)
        missed = sum(len(p.missed) for p in pools)
        text = (
            f"{len(pools)} pools; {will_miss} sites will miss their backup window, "
            f"{missed} already missed it"
        )
        if will_miss or missed:
            self.summary(f"warning: {text}", options, style=self.style.WARNING)
            raise self.failure(text)
        self.summary(text, options)
