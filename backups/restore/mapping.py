"""Mapping a snapshot's site onto a target site: fields by name and type (custom-field ids differ
between sites), users by account id (with a fallback for unknown ones), issue types, priorities
and link types by name; and the create-issue payload built from a snapshot record.

Pure functions over plain data: the planner and the executor both use them, and tests can check
them without a site.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import orjson

# The issue property every restored issue carries: where it came from (read back to find issues
# a restore created when our id map does not know them).
SOURCE_PROPERTY = "jbp.restore.source"

# System fields a create request can set (others are computed by Jira or need transitions).
SETTABLE_SYSTEM = (
    "summary",
    "description",
    "environment",
    "labels",
    "duedate",
)
USER_SYSTEM = ("assignee", "reporter")
CUSTOM_PREFIX = "com.atlassian.jira.plugin.system.customfieldtypes:"
# Custom-field types a create request can carry, and how their values are converted.
RESTORABLE_CUSTOM = {
    "select": "option",
    "radiobuttons": "option",
    "multiselect": "options",
    "multicheckboxes": "options",
    "cascadingselect": "cascade",
    "float": "plain",
    "datepicker": "plain",
    "datetime": "plain",
    "textfield": "plain",
    "url": "plain",
    "labels": "plain",
    "textarea": "plain",
    "userpicker": "user",
    "multiuserpicker": "users",
}


# Jira Software's fields: sprints are re-created and issues moved into them, ranks re-ordered.
SPRINT_TYPE = "gh-sprint"
RANK_TYPE = "gh-lexo-rank"
AGILE_CUSTOM = (SPRINT_TYPE, RANK_TYPE)


def field_of_type(fields: list[dict[str, Any]], wanted: str) -> str | None:
    """The id of the custom field of type ``wanted`` (ids differ between sites)."""
    return next((str(f["id"]) for f in fields if custom_type(f) == wanted), None)


def hierarchy_level(record: dict[str, Any]) -> int:
    """1 for epics, 0 for standard issues, -1 for sub-tasks (parents are created first)."""
    issue_type = (record.get("fields") or {}).get("issuetype") or {}
    if issue_type.get("hierarchyLevel") is not None:
        return int(issue_type["hierarchyLevel"])
    if issue_type.get("subtask"):
        return -1
    return 1 if str(issue_type.get("name", "")).lower() == "epic" else 0


def custom_type(field_def: dict[str, Any]) -> str:
    return str((field_def.get("schema") or {}).get("custom", "")).rsplit(":", 1)[-1]


def field_signature(field_def: dict[str, Any]) -> tuple[str, str, str]:
    schema = field_def.get("schema") or {}
    return (
        str(field_def.get("name", "")).strip().lower(),
        str(schema.get("type", "")),
        str(schema.get("custom", "")),
    )


@dataclass
class FieldMapping:
    """Source custom-field id -> target id, and why the others are left out."""

    mapped: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"mapped": self.mapped, "kinds": self.kinds, "dropped": self.dropped}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FieldMapping:
        return cls(dict(data["mapped"]), dict(data["kinds"]), dict(data["dropped"]))


def map_fields(source: list[dict[str, Any]], target: list[dict[str, Any]]) -> FieldMapping:
    """Custom fields match when name, schema type and custom type are equal. A name used by more
    than one target field of that type is ambiguous and left out (with the reason)."""
    by_signature: dict[tuple[str, str, str], list[str]] = {}
    for fld in target:
        if fld.get("custom"):
            by_signature.setdefault(field_signature(fld), []).append(str(fld["id"]))
    target_names = {str(f.get("name", "")).strip().lower() for f in target if f.get("custom")}
    result = FieldMapping()
    for fld in source:
        if not fld.get("custom"):
            continue
        fid = str(fld["id"])
        kind = RESTORABLE_CUSTOM.get(custom_type(fld))
        if custom_type(fld) in AGILE_CUSTOM:
            continue  # restored through Jira Software's API (sprints, rank)
        if kind is None:
            result.dropped[fid] = (
                f"{fld.get('name')}: type {custom_type(fld) or '?'} is not restorable"
            )
            continue
        candidates = by_signature.get(field_signature(fld), [])
        if len(candidates) == 1:
            result.mapped[fid] = candidates[0]
            result.kinds[fid] = kind
        elif len(candidates) > 1:
            result.dropped[fid] = f"{fld.get('name')}: {len(candidates)} target fields match"
        elif str(fld.get("name", "")).strip().lower() in target_names:
            result.dropped[fid] = f"{fld.get('name')}: the target field has another type"
        else:
            result.dropped[fid] = f"{fld.get('name')}: missing in the target"
    return result


@dataclass
class Mapping:
    """Everything the executor needs to translate a snapshot record for the target site."""

    fields: FieldMapping
    users: set[str]
    user_fallback: str
    issue_types: dict[str, str]
    priorities: dict[str, str]
    link_types: dict[str, str]
    # source project id -> {"id", "key"} of the target project (filled by the project phase)
    projects: dict[str, dict[str, str]] = field(default_factory=dict)
    components: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    # The target's workflows (``workflow.TargetWorkflows`` as JSON), read by the status phase.
    workflow: dict[str, Any] = field(default_factory=dict)
    # Jira Software in the target: {"sprint_field", "rank_field", "boards": {project id: id}}.
    agile: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "fields": self.fields.as_json(),
            "users": sorted(self.users),
            "user_fallback": self.user_fallback,
            "issue_types": self.issue_types,
            "priorities": self.priorities,
            "link_types": self.link_types,
            "projects": self.projects,
            "components": self.components,
            "versions": self.versions,
            "workflow": self.workflow,
            "agile": self.agile,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Mapping:
        return cls(
            fields=FieldMapping.from_json(data["fields"]),
            users=set(data["users"]),
            user_fallback=data.get("user_fallback", ""),
            issue_types=dict(data["issue_types"]),
            priorities=dict(data["priorities"]),
            link_types=dict(data["link_types"]),
            projects=dict(data.get("projects") or {}),
            components=dict(data.get("components") or {}),
            versions=dict(data.get("versions") or {}),
            workflow=dict(data.get("workflow") or {}),
            agile=dict(data.get("agile") or {}),
        )

    # -- users ----------------------------------------------------------------------------------

    def user(self, account_id: str | None, report: set[str] | None = None) -> str | None:
        """The target account for a source account: itself when the target knows it, else the
        fallback (None = leave empty). Unknown ids are added to ``report``."""
        if not account_id:
            return None
        if account_id in self.users:
            return account_id
        if report is not None:
            report.add(account_id)
        if self.user_fallback and self.user_fallback in self.users:
            return self.user_fallback
        return None

    def user_ref(self, value: Any, report: set[str] | None = None) -> dict[str, str] | None:
        account_id = value.get("accountId") if isinstance(value, dict) else None
        mapped = self.user(account_id, report)
        return {"accountId": mapped} if mapped else None


def by_name(records: list[dict[str, Any]]) -> dict[str, str]:
    return {str(r["name"]).lower(): str(r["id"]) for r in records if r.get("name")}


def map_adf(doc: Any, mapping: Mapping, report: set[str] | None = None) -> Any:
    """ADF as it was, with mentions of users unknown in the target turned into plain text."""
    if not isinstance(doc, dict | list):
        return doc
    if not _has_mention(doc):
        return doc
    doc = copy.deepcopy(doc)
    _map_mentions(doc, mapping, report)
    return doc


def _has_mention(node: Any) -> bool:
    if isinstance(node, dict):
        if node.get("type") == "mention":
            return True
        return any(_has_mention(v) for v in node.values() if isinstance(v, dict | list))
    if isinstance(node, list):
        return any(_has_mention(v) for v in node)
    return False


def _map_mentions(node: Any, mapping: Mapping, report: set[str] | None) -> None:
    items = node.get("content") if isinstance(node, dict) else None
    if isinstance(node, list):
        items = node
    if not isinstance(items, list):
        return
    for index, child in enumerate(items):
        if isinstance(child, dict) and child.get("type") == "mention":
            attrs = child.get("attrs") or {}
            account = attrs.get("id")
            if account and account not in mapping.users:
                if report is not None:
                    report.add(account)
                items[index] = {"type": "text", "text": attrs.get("text") or "@unknown"}
        else:
            _map_mentions(child, mapping, report)


def _option_value(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict) and value.get("value") is not None:
        out: dict[str, Any] = {"value": value["value"]}
        child = value.get("child")
        if isinstance(child, dict) and child.get("value") is not None:
            out["child"] = {"value": child["value"]}
        return out
    return None


def convert_custom(kind: str, value: Any, mapping: Mapping, report: set[str]) -> Any:
    """A snapshot value in the shape a create request takes (options by value, since option
    ids differ between sites)."""
    if value is None:
        return None
    if kind in ("option", "cascade"):
        return _option_value(value)
    if kind == "options":
        return [o for o in (_option_value(v) for v in value or []) if o]
    if kind == "user":
        return mapping.user_ref(value, report)
    if kind == "users":
        return [u for u in (mapping.user_ref(v, report) for v in value or []) if u]
    return map_adf(value, mapping, report)


@dataclass
class IssuePayload:
    payload: dict[str, Any]
    unknown_users: set[str]
    skipped_reason: str = ""
    # What the created issue will lack (e.g. its epic, not restored), reported per issue.
    lost: list[str] = field(default_factory=list)


def source_property(*, source_cloud_id: str, record: dict[str, Any], snapshot_id: str) -> dict:
    return {
        "cloudId": source_cloud_id,
        "issueId": str(record["id"]),
        "issueKey": record.get("key", ""),
        "snapshotId": str(snapshot_id),
    }


def issue_payload(
    record: dict[str, Any],
    mapping: Mapping,
    *,
    source_cloud_id: str,
    snapshot_id: str,
) -> IssuePayload:
    """The ``issueUpdates`` element that creates the snapshot's issue in the target: system and
    mapped custom fields, users mapped, ADF unchanged, and the issue's own properties plus the
    one recording its source."""
    fields = record.get("fields") or {}
    unknown: set[str] = set()
    project = mapping.projects.get(str(record.get("projectId")))
    if project is None:
        return IssuePayload({}, unknown, "project missing in the target")
    type_name = str((fields.get("issuetype") or {}).get("name", "")).lower()
    type_id = mapping.issue_types.get(type_name)
    if type_id is None:
        return IssuePayload({}, unknown, f"issue type {type_name or '?'} missing in the target")
    out: dict[str, Any] = {"project": {"id": project["id"]}, "issuetype": {"id": type_id}}
    for name in SETTABLE_SYSTEM:
        value = fields.get(name)
        if value is not None:
            out[name] = map_adf(value, mapping, unknown)
    priority = str((fields.get("priority") or {}).get("name", "")).lower()
    if priority in mapping.priorities:
        out["priority"] = {"id": mapping.priorities[priority]}
    for name in USER_SYSTEM:
        ref = mapping.user_ref(fields.get(name), unknown)
        if ref:
            out[name] = ref
    for name, kind in (
        ("components", "components"),
        ("fixVersions", "versions"),
        ("versions", "versions"),
    ):
        table = mapping.components if kind == "components" else mapping.versions
        refs = [
            {"id": table[str(v["id"])]} for v in fields.get(name) or [] if str(v.get("id")) in table
        ]
        if refs:
            out[name] = refs
    for source_id, target_id in mapping.fields.mapped.items():
        value = convert_custom(
            mapping.fields.kinds[source_id], fields.get(source_id), mapping, unknown
        )
        if value not in (None, []):
            out[target_id] = value
    properties = [
        {"key": key, "value": value}
        for key, value in sorted((record.get("properties") or {}).items())
        if key != SOURCE_PROPERTY
    ]
    properties.append(
        {
            "key": SOURCE_PROPERTY,
            "value": source_property(
                source_cloud_id=source_cloud_id, record=record, snapshot_id=snapshot_id
            ),
        }
    )
    return IssuePayload({"fields": out, "properties": properties}, unknown)


def comment_payload(comment: dict[str, Any], body: Any) -> dict[str, Any]:
    """``POST issue/{key}/comment`` for a snapshot's comment written again with ``body``; its
    original id, author and time go into the source property."""
    payload: dict[str, Any] = {
        "body": body,
        "properties": [
            {
                "key": SOURCE_PROPERTY,
                "value": {
                    "commentId": str(comment.get("id")),
                    "author": (comment.get("author") or {}).get("accountId"),
                    "created": comment.get("created"),
                },
            }
        ],
    }
    if comment.get("visibility"):
        payload["visibility"] = comment["visibility"]
    return payload


def worklog_payload(worklog: dict[str, Any], comment: Any) -> dict[str, Any]:
    """``POST issue/{key}/worklog`` for a snapshot's worklog (start and time spent kept)."""
    payload: dict[str, Any] = {
        "started": worklog.get("started"),
        "timeSpentSeconds": worklog.get("timeSpentSeconds"),
        "properties": [
            {
                "key": SOURCE_PROPERTY,
                "value": {
                    "worklogId": str(worklog.get("id")),
                    "author": (worklog.get("author") or {}).get("accountId"),
                },
            }
        ],
    }
    if comment is not None:
        payload["comment"] = comment
    return payload


def canonical(value: Any) -> bytes:
    """Stable bytes of a JSON value (to compare ADF bodies)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
