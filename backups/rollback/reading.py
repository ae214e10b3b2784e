"""What a roll-back reads of the site: the issues in scope, a page at a time, as Jira shows them
now; and, for "changed between T1 and T2", which fields each issue's changelog says changed in
the window (optionally by one account) and which changed again after it.

The cheapest reads that tell the whole story: one ``search/jql`` (or ``issue/bulkfetch`` for
issue keys) page of 100 issues with every field, inline comments, worklogs, attachments and
links; the changelog inline with it for a window; the complete changelog, comments or
worklogs only for an issue whose inline page is capped; remote links only for an issue whose
snapshot record has some (or when added ones are to be removed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backups.rollback import values

PAGE = 100
# Newest changelog entries read first for a capped changelog, and the most per request.
TAIL = 2
CHANGELOG_PAGE = 100


@dataclass
class Page:
    issues: list[dict[str, Any]]
    next_token: str | None
    # Issue keys of the scope that Jira no longer has (issue-key scope only).
    missing: list[str] = field(default_factory=list)


def scope_jql(job: Any) -> str:
    """The JQL of a projects, JQL or window scope (issue keys are fetched by id)."""
    projects = ", ".join(f'"{k}"' for k in job.project_keys or [])
    if job.scope == "projects":
        return f"project in ({projects}) ORDER BY id ASC"
    if job.scope == "jql":
        return job.jql
    since = job.changed_from.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    jql = f'updated >= "{since}"'
    if projects:
        jql = f"project in ({projects}) AND {jql}"
    return f"{jql} ORDER BY id ASC"


def read_page(client: Any, job: Any, token: str | None, issue_ids: list[str]) -> Page:
    """One page of the scope, from ``token`` (None: the first)."""
    if job.scope == "issues":
        start = int(token or 0)
        chunk = issue_ids[start : start + PAGE]
        data = client.bulkfetch_issues(chunk, fields=("*all",)) if chunk else {}
        missing = [str(e.get("id")) for e in data.get("issueErrors") or []]
        following = start + PAGE
        return Page(
            data.get("issues") or [],
            str(following) if following < len(issue_ids) else None,
            missing,
        )
    page = client.search_jql_page(
        scope_jql(job),
        next_page_token=token,
        fields=("*all",),
        expand="changelog" if job.scope == "changed" else None,
        max_results=PAGE,
    )
    return Page(page.issues, None if page.is_last else page.next_page_token)


def complete_changelogs(client: Any, issues: list[dict[str, Any]], since: datetime) -> None:
    """An issue whose inline changelog is capped (its first entries only) gets its newest
    entries back to ``since``: ``GET issue/{key}/changelog`` from the end, ``TAIL`` entries
    first, twice as many each time an entry older than ``since`` has not been reached. The
    window only needs entries from ``since`` on, and each entry read costs a point."""
    for issue in issues:
        log = issue.get("changelog") or {}
        inline = list(log.get("histories") or [])
        total = int(log.get("total") or 0)
        end, size, tail = total, TAIL, []
        while end > len(inline):
            start = max(len(inline), end - size)
            page = client.changelog_page(issue["key"], start_at=start, max_results=end - start)
            tail = page + tail
            end, size = start, min(size * 2, CHANGELOG_PAGE)
            oldest = parse_time(page[0].get("created")) if page else None
            if not page or (oldest is not None and oldest < since):
                break
        if tail:
            issue["changelog"] = {"histories": inline + tail, "total": total}


@dataclass
class Window:
    start: datetime
    end: datetime
    account: str = ""

    def classify(self, issue: dict[str, Any]) -> tuple[bool, list[str], list[str]]:
        """(in scope, fields changed in the window and not after it, fields changed in the
        window and again after it: left alone). An issue is in scope when its changelog has an
        entry in the window (by the account, when one is named) or, with no account named,
        when it was last updated inside it (a comment deleted, say, leaves no changelog)."""
        inside: set[str] = set()
        after: set[str] = set()
        touched = False
        for history in (issue.get("changelog") or {}).get("histories") or []:
            when = parse_time(history.get("created"))
            if when is None or when < self.start:
                continue
            names = {changelog_field(i) for i in history.get("items") or []}
            if when > self.end:
                after |= names
                continue
            author = (history.get("author") or {}).get("accountId", "")
            if self.account and author != self.account:
                continue
            touched = True
            inside |= names
        updated = parse_time((issue.get("fields") or {}).get("updated"))
        if not self.account and updated is not None and self.start <= updated <= self.end:
            touched = True
        inside.discard("")
        return touched, sorted(inside - after), sorted(inside & after)


def changelog_field(item: dict[str, Any]) -> str:
    field_id = str(item.get("fieldId") or item.get("field") or "")
    return values.CHANGELOG_FIELDS.get(field_id, field_id)


def parse_time(text: Any) -> datetime | None:
    """Jira's ``2026-03-01T12:00:00.000+0000`` (or ISO 8601) as an aware datetime."""
    if not text:
        return None
    raw = str(text)
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(raw, fmt)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def current_parts(
    client: Any, issue: dict[str, Any], record: dict[str, Any], *, remove_added: bool
) -> dict[str, list[dict[str, Any]] | None]:
    """The issue's complete comments, worklogs and remote links now, for the kinds the
    snapshot holds some of (or all kinds, when added ones are to be removed)."""
    fields = issue.get("fields") or {}
    key = issue["key"]
    out: dict[str, list[dict[str, Any]] | None] = {}
    for kind, inline_field, items_key, reader in (
        ("comments", "comment", "comments", client.comments),
        ("worklogs", "worklog", "worklogs", client.worklogs),
    ):
        if not (record.get(kind) or remove_added):
            out[kind] = None
            continue
        inline = fields.get(inline_field) or {}
        listed = list(inline.get(items_key) or [])
        if inline and inline.get("total", len(listed)) <= len(listed):
            out[kind] = listed
        else:
            out[kind] = list(reader(key))
    if record.get("remoteLinks") or remove_added:
        out["remote_links"] = list(client.remote_links(key))
    else:
        out["remote_links"] = None
    return out
