"""Endpoint families: the names the call ledger, the cost model and the burst limiter use.

A family is the path below the API root with every path parameter replaced by a placeholder
(``issue/{key}/comment``), so one row of the ledger counts every call to one endpoint. The
client's methods name their family directly (the path template *is* the family);
``family_for_path`` derives it from a concrete path for anything else.
"""

from __future__ import annotations

import re

# Jira REST v3 root below a site base, and the 3LO gateway prefix that carries a cloud id.
REST_ROOT = "/rest/api/3/"
# Jira Software's API beside it; its families are named ``agile/<path>``.
AGILE_ROOT = "/rest/agile/1.0/"
AGILE_PREFIX = "agile/"
_GATEWAY = re.compile(r"^/ex/jira/[^/]+")

# POST endpoints that only read: safe to retry, charged like reads.
READ_ONLY_POSTS = frozenset(
    {
        "search/jql",
        "search/approximate-count",
        "issue/bulkfetch",
        "changelog/bulkfetch",
        "comment/list",
        "worklog/list",
    }
)

# Auth-server and platform families (not Jira REST; they cost no Jira points).
AUTH_FAMILIES = frozenset({"oauth/token", "me", "accessible-resources"})

_ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")
_NUMBER = re.compile(r"^\d+$")
# Collections whose next segment is a path parameter, and what to call it.
_PARAM_AFTER = {
    "issue": "{key}",
    "project": "{key}",
    "attachment": "{id}",
    "content": "{id}",
    "thumbnail": "{id}",
    "comment": "{id}",
    "worklog": "{id}",
    "remotelink": "{id}",
    "properties": "{prop}",
    "field": "{id}",
    "context": "{ctx}",
    "option": "{id}",
    "version": "{id}",
    "component": "{id}",
    "role": "{id}",
    "issueLink": "{id}",
    "issueLinkType": "{id}",
    "issuetype": "{id}",
    "priority": "{id}",
    "status": "{id}",
    "board": "{id}",
    "sprint": "{id}",
    "user": None,
}
# Segments that are sub-resources or actions, never parameters.
_WORDS = frozenset(
    {
        "search",
        "jql",
        "approximate-count",
        "bulkfetch",
        "bulk",
        "list",
        "updated",
        "deleted",
        "changelog",
        "comment",
        "worklog",
        "remotelink",
        "properties",
        "attachments",
        "content",
        "thumbnail",
        "meta",
        "context",
        "option",
        "components",
        "version",
        "versions",
        "role",
        "statuses",
        "transitions",
        "votes",
        "watchers",
        "editmeta",
        "createmeta",
        "configuration",
        "backlog",
        "rank",
    }
)


def family_for_path(path: str) -> str:
    """``/ex/jira/<cloud>/rest/api/3/issue/PRJ-12/comment?x`` -> ``issue/{key}/comment``."""
    path = path.split("?", 1)[0]
    path = _GATEWAY.sub("", path)
    prefix = ""
    if path.startswith(REST_ROOT):
        path = path[len(REST_ROOT) :]
    elif path.startswith(AGILE_ROOT):
        path, prefix = path[len(AGILE_ROOT) :], AGILE_PREFIX
    elif path.startswith("/oauth/token/accessible-resources"):
        return "accessible-resources"
    elif path.rstrip("/") == "/oauth/token":
        return "oauth/token"
    elif path.rstrip("/") == "/me":
        return "me"
    parts = [p for p in path.strip("/").split("/") if p]
    out: list[str] = []
    for i, part in enumerate(parts):
        previous = parts[i - 1] if i else None
        placeholder = _PARAM_AFTER.get(previous) if previous is not None else None
        if i and out[-1].startswith("{"):
            # After a parameter comes a sub-resource name.
            out.append(part)
        elif placeholder and part not in _WORDS:
            out.append(placeholder)
        elif _ISSUE_KEY.match(part):
            out.append("{key}")
        elif _NUMBER.match(part):
            out.append("{id}")
        else:
            out.append(part)
    return prefix + "/".join(out) if out else prefix or "/"


def is_read_only(method: str, family: str) -> bool:
    """True when repeating the request cannot change anything at Atlassian."""
    method = method.upper()
    if method in ("GET", "HEAD", "OPTIONS"):
        return True
    return method == "POST" and family in READ_ONLY_POSTS


def status_class(status: int | None) -> str:
    """The ledger's status bucket: 2xx, 3xx, 4xx, 429, 5xx, or ``error`` (no response)."""
    if status is None:
        return "error"
    if status == 429:
        return "429"
    if 200 <= status < 600:
        return f"{status // 100}xx"
    return "error"


__all__ = [
    "AGILE_PREFIX",
    "AGILE_ROOT",
    "AUTH_FAMILIES",
    "READ_ONLY_POSTS",
    "family_for_path",
    "is_read_only",
    "status_class",
]
