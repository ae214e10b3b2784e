"""The one report of a restore job: what the dry run plans, or what the finished job did, per
category with counts, what did not (or will not) come back as it was and why, and the problems
per item. The admin, ``restore_snapshot``'s output and its ``--format json`` all show it.
"""

from __future__ import annotations

from typing import Any

from backups.config.restore import configuration_lines
from backups.restore.models import RestoreJob
from backups.restore.planner import plan_summary

MAX_PROBLEMS = 50

# (counter, label) of a finished job, in the order a person reads them.
CATEGORIES = (
    ("issues_created", "issues created"),
    ("issues_already", "issues already restored"),
    ("issues_recreated", "issues restored again (deleted from the target since)"),
    ("issues_failed", "issues failed"),
    ("statuses_set", "statuses set through the workflow"),
    ("statuses_not_reached", "statuses not reached"),
    ("parents_lost", "parents not restored"),
    ("sprints_restored", "sprints restored"),
    ("sprints_failed", "sprints failed"),
    ("comments", "comments"),
    ("worklogs", "worklogs"),
    ("remote_links", "remote links"),
    ("attachments", "attachments"),
    ("descriptions_with_media", "descriptions with inline media remapped"),
    ("history_files", "history files attached"),
    ("links_created", "issue links created"),
    ("links_failed", "issue links failed"),
)


def restore_report(job: RestoreJob) -> dict[str, Any]:
    """The report as JSON-ready data."""
    plan = job.plan or {}
    report: dict[str, Any] = {
        "job": job.pk,
        "dry_run": job.dry_run,
        "status": job.status,
        "reason": job.status_reason,
        "on_damaged": job.on_damaged,
        "points_spent": job.points_spent,
    }
    if job.dry_run:
        report["plan"] = plan
        report["not_as_it_was"] = list(plan.get("limits") or [])
        report["lines"] = plan_summary(plan) + configuration_lines(
            plan.get("configuration"), dry_run=True
        )
        return report
    counters = job.counters or {}
    report["categories"] = [
        {"name": name, "label": label, "count": int(counters.get(name) or 0)}
        for name, label in CATEGORIES
    ]
    report["not_as_it_was"] = not_as_it_was(job)
    report["problems"] = list(job.errors or [])[:MAX_PROBLEMS]
    report["problem_count"] = len(job.errors or [])
    lines = [f"{c['label']}: {c['count']}" for c in report["categories"] if c["count"]]
    lines += [f"not as it was: {line}" for line in report["not_as_it_was"]]
    report["configuration"] = counters.get("configuration") or {}
    lines += configuration_lines(report["configuration"], dry_run=False)
    lines += [f"{p['kind']} {p['source']}: {p['error']}" for p in report["problems"]]
    report["lines"] = lines
    return report


def not_as_it_was(job: RestoreJob) -> list[str]:
    """What the finished job brought back other than it was, grouped, with why."""
    counters = job.counters or {}
    out = [
        "created and updated dates, creators, comment and worklog authors and times are set "
        "by Jira: each comment and worklog starts with who wrote it and when, and each issue "
        "has its history as a file",
    ]
    if counters.get("authors_as_text"):
        out.append(
            f"{counters['authors_as_text']} comments and worklogs by people not in the target "
            "site: author kept as text"
        )
    grouped: dict[str, int] = {}
    for error in job.errors or []:
        if error.get("kind") in ("status", "resolution", "parent", "sprint", "rank"):
            reason = str(error.get("error", "")).split(";")[0]
            grouped[reason] = grouped.get(reason, 0) + 1
    out += [f"{count} x {reason}" for reason, count in sorted(grouped.items())]
    if counters.get("unknown_users"):
        out.append(f"{counters['unknown_users']} users unknown in the target")
    return out


def report_lines(job: RestoreJob) -> list[str]:
    return restore_report(job)["lines"]
