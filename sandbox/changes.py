"""What every write to an issue does besides its own change: pin the content, give new
sub-objects ids, record the changelog, move `updated`, and invalidate cached JSON of the issue
and of the issues that show part of it (parent, sub-tasks, linked issues)."""

from __future__ import annotations

from typing import Any

from sandbox.api import ApiError
from sandbox.clock import iso
from sandbox.content import SUB_ID, WRITTEN_BASE, pin
from sandbox.model import Issue, Site


def next_sub_id(site: Site, issue: Issue, part: str) -> int:
    """An id for a comment, worklog, attachment, remote link or history entry written over
    the API (`issue_id * 1000 + 500 + n`, see docs/sandbox.md)."""
    doc = pin(site, issue)
    counters = doc.setdefault("next_sub", {})
    n = counters.get(part, 0)
    counters[part] = n + 1
    if n >= SUB_ID - WRITTEN_BASE:
        raise ApiError(413, f"The issue has reached the limit of {part}s the sandbox can hold.")
    return issue.id * SUB_ID + WRITTEN_BASE + n


def bump(site: Site, issue: Issue, now: float) -> None:
    """The issue changed at `now`: `updated` moves (never backwards) and caches are dropped."""
    issue.updated = max(now, issue.updated)
    issue.doc["fields"]["updated"] = iso(issue.updated)
    site.touch(issue)


def record(site: Site, issue: Issue, author: dict | None, items: list[dict], now: float) -> None:
    """Append one changelog entry (Jira writes one per edit, with an item per field)."""
    if not items:
        return
    doc = pin(site, issue)
    entry: dict[str, Any] = {"id": str(next_sub_id(site, issue, "history"))}
    if author is not None:
        entry["author"] = author
    entry.update(created=iso(now), items=items)
    doc["histories"].append(entry)


def item(
    field: str,
    field_id: str,
    from_string: str | None,
    to_string: str | None,
    from_id: str | None = None,
    to_id: str | None = None,
    fieldtype: str = "jira",
) -> dict[str, Any]:
    """A changelog item; absent values are omitted (the OpenAPI document has no nulls here)."""
    data: dict[str, Any] = {"field": field, "fieldtype": fieldtype, "fieldId": field_id}
    for key, value in (
        ("from", from_id),
        ("fromString", from_string),
        ("to", to_id),
        ("toString", to_string),
    ):
        if value is not None:
            data[key] = value
    return data


def touch_related(site: Site, issue: Issue) -> None:
    """The issue's headline (summary, status, type, priority) changed: issues that show it
    (its parent, its children, the issues linked to it) must be serialized again."""
    related = set(site.children.get(issue.id, ()))
    parent = site.parents.get(issue.id)
    if parent is not None:
        related.add(parent)
    related.update(other for _l, _t, _d, other in site.links.get(issue.id, ()))
    for other_id in related:
        other = site.issues.get(other_id)
        if other is not None:
            other.rev += 1
