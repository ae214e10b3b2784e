"""The one report of a roll-back (the admin's pages, the command's table, JSON and CSV): per
issue, each difference as "field: now → snapshot", the parts to bring back or remove, the fields
left alone (changed again after the window), and the job's counts and problems."""

from __future__ import annotations

from typing import Any

from backups.rollback.models import RollbackItem, RollbackJob

PART_NAMES = {
    "comments": "comments to bring back",
    "edit_comments": "comments whose text to set back",
    "worklogs": "worklogs to bring back",
    "attachments": "attachments to bring back",
    "remote_links": "remote links to bring back",
    "links": "links to bring back",
}
REMOVED_NAMES = {
    "comments": "comments added since, to remove",
    "worklogs": "worklogs added since, to remove",
    "attachments": "attachments added since, to remove",
    "remote_links": "remote links added since, to remove",
    "links": "links added since, to remove",
}
ROW_COLUMNS = ("issue", "field", "now", "snapshot")


def issue_rows(item: RollbackItem) -> list[dict[str, str]]:
    """One row per difference of the issue: ``{"issue", "field", "now", "snapshot"}``."""
    diff = item.diff or {}
    rows = [
        {"issue": item.issue_key, "field": f["name"], "now": f["now"], "snapshot": f["snapshot"]}
        for f in diff.get("fields") or []
    ]
    status = diff.get("status")
    if status:
        rows.append(
            {
                "issue": item.issue_key,
                "field": "Status",
                "now": status["now"],
                "snapshot": status["snapshot"],
            }
        )
    for table, names, now in (
        (diff.get("add") or {}, PART_NAMES, "missing"),
        (diff.get("remove") or {}, REMOVED_NAMES, "present"),
    ):
        for kind, ids in table.items():
            if ids:
                rows.append(
                    {
                        "issue": item.issue_key,
                        "field": names.get(kind, kind),
                        "now": f"{len(ids)} {now}",
                        "snapshot": ", ".join(str(i) for i in ids[:10])
                        + (" …" if len(ids) > 10 else ""),
                    }
                )
    for kept in diff.get("kept") or []:
        rows.append(
            {
                "issue": item.issue_key,
                "field": kept["name"],
                "now": "left alone",
                "snapshot": kept["why"],
            }
        )
    return rows


def rollback_rows(job: RollbackJob) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for item in job.items.order_by("id"):
        rows.extend(issue_rows(item))
    return rows


def rollback_report(job: RollbackJob) -> dict[str, Any]:
    """The job, its counts and problems, and each issue's diff (and what was written)."""
    return {
        "id": job.pk,
        "dry_run": job.dry_run,
        "snapshot": str(job.snapshot_id),
        "site": job.site.url,
        "scope": scope_text(job),
        "status": job.status,
        "reason": job.status_reason,
        "points_spent": job.points_spent,
        "counters": job.counters,
        "errors": job.errors,
        "issues": [
            {
                "key": item.issue_key,
                "id": item.issue_id,
                "state": item.state,
                "fields": (item.diff or {}).get("fields") or [],
                "status": _status(item),
                "add": {k: v for k, v in ((item.diff or {}).get("add") or {}).items() if v},
                "remove": {k: v for k, v in ((item.diff or {}).get("remove") or {}).items() if v},
                "added_since": (item.diff or {}).get("added_since") or {},
                "kept": (item.diff or {}).get("kept") or [],
                "written": item.written,
                "error": item.error,
            }
            for item in job.items.order_by("id")
        ],
    }


def _status(item: RollbackItem) -> dict[str, str] | None:
    status = (item.diff or {}).get("status")
    return {"now": status["now"], "snapshot": status["snapshot"]} if status else None


def scope_text(job: RollbackJob) -> str:
    """The scope in words ("changed between 2026-03-01 12:00 and 12:30 UTC by 5b10…")."""
    if job.scope == RollbackJob.Scope.ISSUES:
        return "issues " + ", ".join(job.issue_keys)
    if job.scope == RollbackJob.Scope.JQL:
        return f"JQL: {job.jql}"
    projects = ", ".join(job.project_keys)
    if job.scope == RollbackJob.Scope.PROJECTS:
        return f"projects {projects}"
    text = (
        f"changed between {job.changed_from:%Y-%m-%d %H:%M:%S} and "
        f"{job.changed_to:%Y-%m-%d %H:%M:%S} UTC"
    )
    if job.changed_by:
        text += f" by {job.changed_by}"
    if projects:
        text += f" in {projects}"
    return text
