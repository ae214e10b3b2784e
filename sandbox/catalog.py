"""Site-wide Jira configuration every sandbox site shares: statuses, issue types, priorities,
link types, system fields and the custom fields the generator fills."""

from __future__ import annotations

from typing import Any

from sandbox.model import BASE

STATUS_CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {
        "id": 4,
        "key": "indeterminate",
        "colorName": "yellow",
        "name": "In Progress",
    },
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
# The statuses every site has; classic sites draw issues' statuses from exactly these four.
STATUSES = [
    ("10000", "To Do", "new"),
    ("3", "In Progress", "indeterminate"),
    ("10001", "In Review", "indeterminate"),
    ("10002", "Done", "done"),
]
# Sites generated with the "workflows" feature also have these.
EXTRA_STATUSES = [("10003", "Blocked", "indeterminate")]
ALL_STATUSES = STATUSES + EXTRA_STATUSES
STATUS_CATEGORY = {sid: cat for sid, _name, cat in ALL_STATUSES}
ISSUE_TYPES = [
    ("10001", "Task", False, 0),
    ("10002", "Bug", False, 0),
    ("10003", "Story", False, 0),
    ("10004", "Epic", False, 1),
    ("10005", "Subtask", True, -1),
]
PRIORITIES = [
    ("1", "Highest", "#d04437"),
    ("2", "High", "#f15C75"),
    ("3", "Medium", "#f79232"),
    ("4", "Low", "#707070"),
    ("5", "Lowest", "#999999"),
]
LINK_TYPES = [
    ("10000", "Blocks", "is blocked by", "blocks"),
    ("10001", "Cloners", "is cloned by", "clones"),
    ("10002", "Duplicate", "is duplicated by", "duplicates"),
    ("10003", "Relates", "relates to", "relates to"),
]
ROLES = [(10002, "Administrators"), (10003, "Developers"), (10004, "Viewers")]
RESOLUTION_DONE = {"id": "10000", "name": "Done", "description": "Work has been completed."}
# Sites with the "workflows" feature offer all three (classic sites only Done).
RESOLUTIONS = [
    RESOLUTION_DONE,
    {"id": "10001", "name": "Won't Do", "description": "This issue won't be actioned."},
    {"id": "10002", "name": "Duplicate", "description": "The problem is a duplicate of another."},
]
EPIC, SUBTASK = "10004", "10005"
STANDARD_TYPES = ("10001", "10002", "10003")  # Task, Bug, Story

CUSTOM = "com.atlassian.jira.plugin.system.customfieldtypes:"
# (id, name, kind, schema)
CUSTOM_FIELDS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "customfield_10020",
        "Customer Tier",
        "select",
        {"type": "option", "custom": CUSTOM + "select"},
    ),
    (
        "customfield_10021",
        "Platforms",
        "multiselect",
        {"type": "array", "items": "option", "custom": CUSTOM + "multiselect"},
    ),
    ("customfield_10022", "Story Points", "number", {"type": "number", "custom": CUSTOM + "float"}),
    ("customfield_10023", "Target Date", "date", {"type": "date", "custom": CUSTOM + "datepicker"}),
    ("customfield_10024", "Reviewer", "user", {"type": "user", "custom": CUSTOM + "userpicker"}),
    (
        "customfield_10025",
        "Tags",
        "labels",
        {"type": "array", "items": "string", "custom": CUSTOM + "labels"},
    ),
    (
        "customfield_10026",
        "Acceptance Criteria",
        "textarea",
        {"type": "string", "custom": CUSTOM + "textarea"},
    ),
]
CUSTOM_OPTIONS = {
    "customfield_10020": [("10100", "Gold"), ("10101", "Silver"), ("10102", "Bronze")],
    "customfield_10021": [
        ("10110", "Web"),
        ("10111", "iOS"),
        ("10112", "Android"),
        ("10113", "Desktop"),
    ],
}
CONTEXT_IDS = {"customfield_10020": "10200", "customfield_10021": "10201"}

# Jira Software's fields, present on sites with the "agile" feature. Their ids differ from
# site to site in Jira Cloud: clients find them by `schema.custom`.
GREENHOPPER = "com.pyxis.greenhopper.jira:"
RANK_FIELD = "customfield_10019"
SPRINT_FIELD = "customfield_10027"
AGILE_FIELDS: list[tuple[str, str, str, dict[str, Any]]] = [
    (RANK_FIELD, "Rank", "rank", {"type": "any", "custom": GREENHOPPER + "gh-lexo-rank"}),
    (
        SPRINT_FIELD,
        "Sprint",
        "sprint",
        {"type": "array", "items": "json", "custom": GREENHOPPER + "gh-sprint"},
    ),
]

# System fields: (id, name, schema or None, navigable, orderable)
SYSTEM_FIELDS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("summary", "Summary", {"type": "string", "system": "summary"}),
    ("description", "Description", {"type": "string", "system": "description"}),
    ("issuetype", "Issue Type", {"type": "issuetype", "system": "issuetype"}),
    ("project", "Project", {"type": "project", "system": "project"}),
    ("status", "Status", {"type": "status", "system": "status"}),
    ("priority", "Priority", {"type": "priority", "system": "priority"}),
    ("assignee", "Assignee", {"type": "user", "system": "assignee"}),
    ("reporter", "Reporter", {"type": "user", "system": "reporter"}),
    ("creator", "Creator", {"type": "user", "system": "creator"}),
    ("created", "Created", {"type": "datetime", "system": "created"}),
    ("updated", "Updated", {"type": "datetime", "system": "updated"}),
    ("labels", "Labels", {"type": "array", "items": "string", "system": "labels"}),
    ("components", "Components", {"type": "array", "items": "component", "system": "components"}),
    ("fixVersions", "Fix versions", {"type": "array", "items": "version", "system": "fixVersions"}),
    ("versions", "Affects versions", {"type": "array", "items": "version", "system": "versions"}),
    ("resolution", "Resolution", {"type": "resolution", "system": "resolution"}),
    ("resolutiondate", "Resolved", {"type": "datetime", "system": "resolutiondate"}),
    ("duedate", "Due date", {"type": "date", "system": "duedate"}),
    ("environment", "Environment", {"type": "string", "system": "environment"}),
    (
        "issuelinks",
        "Linked Issues",
        {"type": "array", "items": "issuelinks", "system": "issuelinks"},
    ),
    ("attachment", "Attachment", {"type": "array", "items": "attachment", "system": "attachment"}),
    ("comment", "Comment", {"type": "comments-page", "system": "comment"}),
    ("worklog", "Log Work", {"type": "array", "items": "worklog", "system": "worklog"}),
    ("timetracking", "Time tracking", {"type": "timetracking", "system": "timetracking"}),
    ("parent", "Parent", {"type": "issuelink", "system": "parent"}),
    ("subtasks", "Sub-tasks", {"type": "array", "items": "issuelinks", "system": "subtasks"}),
    ("watches", "Watchers", {"type": "watches", "system": "watches"}),
    ("votes", "Votes", {"type": "votes", "system": "votes"}),
    (
        "statuscategorychangedate",
        "Status Category Changed",
        {"type": "datetime", "system": "statuscategorychangedate"},
    ),
]
NOT_NAVIGABLE = frozenset({"attachment"})


def resolution_json(resolution: dict) -> dict[str, Any]:
    return dict(resolution, self=f"{BASE}/rest/api/3/resolution/{resolution['id']}")


def status_json(status_id: str) -> dict[str, Any]:
    for sid, name, cat in ALL_STATUSES:
        if sid == status_id:
            category = STATUS_CATEGORIES[cat]
            return {
                "self": f"{BASE}/rest/api/3/status/{sid}",
                "description": "",
                "iconUrl": f"{BASE}/images/icons/statuses/generic.png",
                "name": name,
                "id": sid,
                "statusCategory": {
                    "self": f"{BASE}/rest/api/3/statuscategory/{category['id']}",
                    **category,
                },
            }
    raise KeyError(status_id)


def issuetype_json(type_id: str) -> dict[str, Any]:
    for tid, name, subtask, level in ISSUE_TYPES:
        if tid == type_id:
            return {
                "self": f"{BASE}/rest/api/3/issuetype/{tid}",
                "id": tid,
                "description": f"A {name.lower()}.",
                "iconUrl": f"{BASE}/images/icons/issuetypes/{name.lower()}.svg",
                "name": name,
                "subtask": subtask,
                "avatarId": 10300 + int(tid) % 100,
                "hierarchyLevel": level,
            }
    raise KeyError(type_id)


def priority_json(priority_id: str) -> dict[str, Any]:
    for pid, name, _color in PRIORITIES:
        if pid == priority_id:
            return {
                "self": f"{BASE}/rest/api/3/priority/{pid}",
                "iconUrl": f"{BASE}/images/icons/priorities/{name.lower()}.svg",
                "name": name,
                "id": pid,
            }
    raise KeyError(priority_id)


def priority_full(priority_id: str) -> dict[str, Any]:
    data = priority_json(priority_id)
    color = next(c for p, _n, c in PRIORITIES if p == priority_id)
    return {
        **data,
        "statusColor": color,
        "description": f"{data['name']} priority",
        "isDefault": priority_id == "3",
    }


def link_type_json(type_id: str) -> dict[str, Any]:
    for tid, name, inward, outward in LINK_TYPES:
        if tid == type_id:
            return {
                "id": tid,
                "name": name,
                "inward": inward,
                "outward": outward,
                "self": f"{BASE}/rest/api/3/issueLinkType/{tid}",
            }
    raise KeyError(type_id)


def find_by_name(table: list[tuple], value: Any) -> str | None:
    """Resolve {"id": ...} or {"name": ...} references in write requests."""
    if not isinstance(value, dict):
        return None
    for row in table:
        if value.get("id") is not None and str(value["id"]) == row[0]:
            return row[0]
        if value.get("name") is not None and str(value["name"]).lower() == row[1].lower():
            return row[0]
    return None
