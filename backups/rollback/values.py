"""One field's value three ways: comparable (to tell whether the issue differs from the
snapshot), writable (what ``PUT issue`` takes to set it back) and readable (the diff a person
sees: "now → snapshot").

A roll-back writes into the snapshot's own site, so field ids, option values, accounts,
components and versions are the same objects; custom fields keep the kinds restore knows
(``backups.restore.mapping.RESTORABLE_CUSTOM``). Pure functions over Jira's JSON.
"""

from __future__ import annotations

from typing import Any

from backups.restore import mapping as maps

# System fields a roll-back compares and writes, with their kind. Status goes through
# transitions (``diff.status``); the rest are set by Jira.
SYSTEM_KINDS: dict[str, str] = {
    "summary": "plain",
    "description": "plain",
    "environment": "plain",
    "duedate": "plain",
    "labels": "labels",
    "priority": "priority",
    "assignee": "user",
    "reporter": "user",
    "components": "refs",
    "fixVersions": "refs",
    "versions": "refs",
    "parent": "parent",
}
STATUS = "status"
# Changelog field ids that name something else than the field key.
CHANGELOG_FIELDS = {"IssueParentAssociation": "parent", "Parent": "parent"}
TEXT_LIMIT = 80


def field_kinds(fields: list[dict[str, Any]]) -> dict[str, str]:
    """Field id -> kind, for every field a roll-back can write (``GET field`` of the site)."""
    kinds = dict(SYSTEM_KINDS)
    for fld in fields:
        if not fld.get("custom"):
            continue
        kind = maps.RESTORABLE_CUSTOM.get(maps.custom_type(fld))
        if kind is not None:
            kinds[str(fld["id"])] = "labels" if maps.custom_type(fld) == "labels" else kind
    return kinds


def field_names(fields: list[dict[str, Any]]) -> dict[str, str]:
    return {str(f["id"]): str(f.get("name") or f["id"]) for f in fields}


def comparable(kind: str, value: Any) -> Any:
    """What must be equal for the field to count as unchanged."""
    if kind in ("plain", "adf"):
        return None if value in (None, "", []) else value
    if kind == "labels":
        return sorted(str(v) for v in value or [])
    if kind == "priority":
        return str(value["id"]) if isinstance(value, dict) and value.get("id") else None
    if kind == "user":
        return value.get("accountId") if isinstance(value, dict) else None
    if kind == "users":
        return sorted(str(u.get("accountId")) for u in value or [] if isinstance(u, dict))
    if kind == "refs":
        return sorted(str(r.get("id")) for r in value or [] if isinstance(r, dict))
    if kind == "parent":
        return str(value["id"]) if isinstance(value, dict) and value.get("id") else None
    if kind in ("option", "cascade"):
        return maps._option_value(value)
    if kind == "options":
        return sorted(str(o.get("value")) for o in value or [] if isinstance(o, dict))
    return value


def writable(kind: str, value: Any) -> Any:
    """The snapshot's value as ``PUT issue``'s ``fields`` takes it."""
    if kind in ("plain", "adf"):
        return None if value in ("", []) else value
    if kind == "labels":
        return list(value or [])
    if kind == "priority":
        return {"id": str(value["id"])} if isinstance(value, dict) and value.get("id") else None
    if kind == "user":
        account = value.get("accountId") if isinstance(value, dict) else None
        return {"accountId": account} if account else None
    if kind == "users":
        return [{"accountId": u["accountId"]} for u in value or [] if u.get("accountId")]
    if kind == "refs":
        return [{"id": str(r["id"])} for r in value or [] if r.get("id")]
    if kind == "parent":
        return {"id": str(value["id"])} if isinstance(value, dict) and value.get("id") else None
    if kind in ("option", "cascade"):
        return maps._option_value(value)
    if kind == "options":
        return [o for o in (maps._option_value(v) for v in value or []) if o]
    return value


def readable(kind: str, value: Any) -> str:
    """A short text of the value for the diff ("" for empty)."""
    if value in (None, "", []):
        return ""
    if isinstance(value, list):
        return ", ".join(t for t in (readable(kind, v) for v in value) if t)
    if isinstance(value, dict):
        if value.get("type") == "doc":
            return _short(adf_text(value))
        if kind == "parent":
            return str(value.get("key") or value.get("id") or "")
        for key in ("displayName", "value", "name", "key", "accountId", "id"):
            if value.get(key) not in (None, ""):
                text = str(value[key])
                child = value.get("child")
                if isinstance(child, dict) and child.get("value"):
                    text += f" / {child['value']}"
                return text
        return _short(str(value))
    return _short(str(value))


def adf_text(doc: Any) -> str:
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                parts.append(str(node.get("text", "")))
            for child in node.get("content") or []:
                walk(child)

    walk(doc)
    return " ".join(p.strip() for p in parts if p.strip())


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"
