"""Jira's issue hierarchy rules: epics (level 1) hold standard issues (level 0) of any project;
standard issues hold sub-tasks (level -1) of their own project; a sub-task must have a parent."""

from __future__ import annotations

from typing import Any

from sandbox import catalog
from sandbox.content import headline
from sandbox.model import Issue, Site

WRONG_LEVEL = "Given parent issue does not belong to appropriate hierarchy."
SUBTASK_WITHOUT_PARENT = "Issue type is a sub-task but parent issue key or id not specified."


def level(type_id: str) -> int:
    return next(lvl for tid, _n, _s, lvl in catalog.ISSUE_TYPES if tid == type_id)


def find_parent(site: Site, ref: Any) -> Issue | None:
    """`{"key": ...}` or `{"id": ...}` -> the live issue, or None."""
    if not isinstance(ref, dict):
        return None
    text = str(ref.get("key") or ref.get("id") or "")
    return site.issue(text) if text else None


def type_of(site: Site, issue: Issue) -> str:
    return headline(site, issue)["issuetype"]["id"]


def check(site: Site, type_id: str, project_id: int, parent: Issue | None) -> str | None:
    """Why `parent` cannot be the parent of an issue of this type and project (None: it can)."""
    if parent is None:
        return SUBTASK_WITHOUT_PARENT if level(type_id) == -1 else None
    if level(type_of(site, parent)) != level(type_id) + 1:
        return WRONG_LEVEL
    if level(type_id) == -1 and parent.project_id != project_id:
        return "A sub-task must be in the same project as its parent."
    return None
