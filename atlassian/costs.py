"""Atlassian's points cost model for 3LO apps, so we know what each call costs before the
hourly quota tells us.

A request costs 1 base point + 1 per *core* object returned (issue, project, comment,
worklog, changelog entry, attachment, field, version, component, ...) + 2 per *identity*
object (user, group, role, permission). Writes cost 1. Atlassian sends no cost header, so the
count comes from the response body; ``X-RateLimit-Remaining`` deltas are only a cross-check.
"""

from __future__ import annotations

from typing import Any

from atlassian.endpoints import AUTH_FAMILIES, is_read_only

BASE_POINTS = 1
CORE_POINTS = 1
IDENTITY_POINTS = 2
WRITE_POINTS = 1

# Families that return identity objects (users, groups, roles, permissions).
_IDENTITY_FAMILIES = frozenset(
    {
        "users/search",
        "user/search",
        "user/bulk",
        "user",
        "myself",
        "mypermissions",
        "project/{key}/role",
        "project/{key}/role/{id}",
        "role",
        "group/member",
        "groups/picker",
    }
)
# Where each family keeps its list of objects; a bare list counts its items.
_LIST_KEYS = (
    "issues",
    "values",
    "comments",
    "worklogs",
    "histories",
    "issueLinkTypes",
    "users",
    "keys",
    "issueChangeLogs",
    "transitions",
    "permissionSchemes",
    "issueSecuritySchemes",
    "dashboards",
    "gadgets",
)
# Single-object families: one core object each.
_SINGLE_CORE = frozenset(
    {
        "issue/{key}",
        "attachment/{id}",
        "attachment/content/{id}",
        "attachment/thumbnail/{id}",
        "issue/{key}/properties/{prop}",
        "issue/{key}/comment/{id}",
        "issue/{key}/worklog/{id}",
        "project/{key}",
        "version/{id}",
        "component/{id}",
    }
)
# Families that return no objects: counts, server info.
_NO_OBJECTS = frozenset({"search/approximate-count", "serverInfo"})


def points_for(
    method: str, endpoint_family: str, response_json: Any = None, *, status: int = 200
) -> int:
    """Points Atlassian charges for one answered request (a 429 refusal costs nothing; any
    other error costs the base point)."""
    if endpoint_family in AUTH_FAMILIES or status == 429:
        return 0
    if not is_read_only(method, endpoint_family):
        return WRITE_POINTS
    if status >= 400:
        return BASE_POINTS
    core, identity = count_objects(endpoint_family, response_json)
    return BASE_POINTS + CORE_POINTS * core + IDENTITY_POINTS * identity


def count_objects(endpoint_family: str, data: Any) -> tuple[int, int]:
    """(core objects, identity objects) in one response body."""
    if endpoint_family in _NO_OBJECTS:
        return 0, 0
    if endpoint_family in _SINGLE_CORE:
        return 1, 0
    if endpoint_family == "mypermissions":
        permissions = data.get("permissions", {}) if isinstance(data, dict) else {}
        return 0, len(permissions)
    if endpoint_family == "myself":
        return 0, 1
    if endpoint_family == "changelog/bulkfetch" and isinstance(data, dict):
        logs = data.get("issueChangeLogs") or []
        return sum(len(log.get("changeHistories") or []) for log in logs), 0
    if endpoint_family == "project/{key}/role/{id}" and isinstance(data, dict):
        # The role and each of its actors.
        return 0, 1 + len(data.get("actors") or [])
    if endpoint_family == "project/{key}/role" and isinstance(data, dict):
        return 0, len(data)  # {"Administrators": "<role url>", ...}
    n = _count(data)
    if endpoint_family in _IDENTITY_FAMILIES:
        return 0, n
    return n, 0


def _count(data: Any) -> int:
    if data is None:
        return 0
    if isinstance(data, list):
        return len(data)
    if isinstance(data, dict):
        for key in _LIST_KEYS:
            value = data.get(key)
            if isinstance(value, list):
                return len(value)
        return 1 if data else 0
    return 1


# What a read is assumed to return when it does not say how many objects it asks for.
DEFAULT_READ_OBJECTS = 10
# Upper bound of the objects one read's estimate counts: a page of ids may hold 5,000, but a
# request is admitted on a typical page; what it really cost is settled after the answer.
MAX_ESTIMATED_OBJECTS = 100


def estimate_points(method: str, endpoint_family: str, params: Any = None, body: Any = None) -> int:
    """Points a request is expected to cost *before* it is sent (the budget reserves them):
    a write costs 1; a read 1 + its page size (``maxResults``, or the ids it names), doubled
    per object for identity families."""
    if endpoint_family in AUTH_FAMILIES:
        return 0
    if not is_read_only(method, endpoint_family):
        return WRITE_POINTS
    if endpoint_family in _NO_OBJECTS:
        return BASE_POINTS
    if endpoint_family in _SINGLE_CORE:
        return BASE_POINTS + CORE_POINTS
    objects = DEFAULT_READ_OBJECTS
    for source in (params, body):
        if not isinstance(source, dict):
            continue
        for key in ("maxResults", "issueIdsOrKeys", "ids", "accountId"):
            value = source.get(key)
            if isinstance(value, list | tuple):
                objects = len(value)
                break
            if isinstance(value, int | str) and str(value).isdigit() and key == "maxResults":
                objects = int(value)
                break
    objects = max(0, min(objects, MAX_ESTIMATED_OBJECTS))
    per_object = IDENTITY_POINTS if endpoint_family in _IDENTITY_FAMILIES else CORE_POINTS
    return BASE_POINTS + per_object * objects


__all__ = ["count_objects", "estimate_points", "points_for"]
