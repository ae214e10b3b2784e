"""Pure comparisons of two sides of a site (plain records, no storage, no Atlassian): issues
field by field, and configuration record by record with readable paths.

A difference is a ``Change``: what area it is in (``issue`` or a configuration kind), what
happened (``created``, ``deleted``, ``modified``), the object in words, and for a modification
the field (or path inside a configuration record) with its value before and after, rendered
for a person (an option by its value, a user by name, a document by its text).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from backups.config.kinds import CONFIG_KINDS

CREATED, DELETED, MODIFIED = "created", "deleted", "modified"
MAX_TEXT = 120

# Fields Jira changes by itself (dates, counters, derived sums): not edits anyone made.
VOLATILE_FIELDS = frozenset(
    {
        "updated",
        "lastViewed",
        "statuscategorychangedate",
        "watches",
        "votes",
        "aggregateprogress",
        "progress",
        "aggregatetimespent",
        "aggregatetimeestimate",
        "aggregatetimeoriginalestimate",
        "workratio",
        "issuerestriction",
        "attachment",
        "comment",
        "worklog",
    }
)
# Configuration kinds a change view compares, in the order it shows them: what issues need,
# then schemes, then what people share. ``snapshot_notes`` and issue kinds are not here.
COMPARED_KINDS = (
    "statuses",
    "issue_types",
    "priorities",
    "resolutions",
    "link_types",
    "fields",
    "field_contexts",
    "field_options",
    "projects",
    "components",
    "versions",
    "project_roles",
    "workflows",
    "workflow_schemes",
    "boards",
    "sprints",
    *CONFIG_KINDS,
)
# Record parts that are links or counters, never a change.
IGNORED_KEYS = frozenset({"self", "iconUrl", "avatarUrls", "expand", "untranslatedName", "insight"})


@dataclass(frozen=True)
class Change:
    area: str
    change: str
    object: str
    field: str = ""
    before: str = ""
    after: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


# ------------------------------------------------------------------ rendering values


def text_of(node: Any) -> str:
    """The plain text of an Atlassian document (or any nested value)."""
    if isinstance(node, dict):
        if node.get("type") == "text":
            return str(node.get("text") or "")
        if node.get("type") == "mention":
            return str((node.get("attrs") or {}).get("text") or "@someone")
        parts = [text_of(child) for child in node.get("content") or []]
        joiner = "\n" if node.get("type") in ("doc", "bulletList", "orderedList") else ""
        return joiner.join(p for p in parts if p)
    if isinstance(node, list):
        return " ".join(text_of(n) for n in node)
    return "" if node is None else str(node)


def render(value: Any) -> str:
    """A value as a person reads it, clipped to ``MAX_TEXT`` characters."""
    return _clip(_render(value))


def _render(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_render(v) for v in value)
    if isinstance(value, dict):
        if value.get("type") == "doc":
            return text_of(value).replace("\n", " / ")
        for key in ("value", "displayName", "name", "key"):
            if value.get(key) is not None:
                text = str(value[key])
                child = value.get("child")
                if isinstance(child, dict) and child.get("value") is not None:
                    text += f" / {child['value']}"
                return text
        if "id" in value and len(value) <= 3:
            return str(value["id"])
        return ", ".join(f"{k}={_render(v)}" for k, v in sorted(value.items()))
    return str(value)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


# ------------------------------------------------------------------ issues


def issue_fingerprint(record: Mapping[str, Any]) -> tuple:
    """What an issue's comparison looks at, hashable: equal fingerprints mean no change."""
    return (
        tuple(
            sorted(
                (k, _canonical(v))
                for k, v in (record.get("fields") or {}).items()
                if k not in VOLATILE_FIELDS
            )
        ),
        tuple(sorted(str(c.get("id")) for c in record.get("comments") or [])),
        tuple(sorted(str(w.get("id")) for w in record.get("worklogs") or [])),
        tuple(sorted(str(a.get("id")) for a in record.get("attachments") or [])),
        tuple(sorted(str(r.get("id")) for r in record.get("remoteLinks") or [])),
    )


def _canonical(value: Any) -> str:
    import orjson

    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def issue_label(record: Mapping[str, Any]) -> str:
    summary = str((record.get("fields") or {}).get("summary") or "")
    return _clip(f"{record.get('key') or record.get('id')} {summary}".strip())


def issue_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], field_names: Mapping[str, str]
) -> list[Change]:
    """Field-level differences of one issue (``fields`` by name; comments, worklogs,
    attachments and remote links by what was added and deleted)."""
    label = issue_label(after)
    out: list[Change] = []
    old, new = before.get("fields") or {}, after.get("fields") or {}
    for fid in sorted(set(old) | set(new), key=lambda f: field_names.get(f, f).lower()):
        if fid in VOLATILE_FIELDS:
            continue
        a, b = old.get(fid), new.get(fid)
        if _canonical(a) == _canonical(b) or (_empty(a) and _empty(b)):
            continue
        out.append(
            Change("issue", MODIFIED, label, field_names.get(fid, fid), render(a), render(b))
        )
    for part, what in (
        ("comments", "comment"),
        ("worklogs", "worklog"),
        ("attachments", "attachment"),
        ("remoteLinks", "remote link"),
    ):
        a = {str(x.get("id")): x for x in before.get(part) or []}
        b = {str(x.get("id")): x for x in after.get(part) or []}
        gone, added = sorted(set(a) - set(b), key=_num), sorted(set(b) - set(a), key=_num)
        if gone or added:
            out.append(
                Change(
                    "issue",
                    MODIFIED,
                    label,
                    part if part != "remoteLinks" else "remote links",
                    _parts(what, gone, a),
                    _parts(what, added, b),
                )
            )
    return out


def _parts(what: str, ids: list[str], records: Mapping[str, Any]) -> str:
    if not ids:
        return ""
    verb = "deleted" if records else ""
    shown = []
    for pid in ids[:5]:
        record = records[pid]
        body = record.get("body") or record.get("comment") or record.get("filename") or ""
        shown.append(_clip(f"{pid}: {_render(body)}") if body else pid)
    more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
    noun = what if len(ids) == 1 else f"{what}s"
    return f"{len(ids)} {noun}{(' ' + verb) if verb else ''}: " + "; ".join(shown) + more


def _num(text: str) -> tuple[int, str]:
    return (int(text), "") if text.isdigit() else (0, text)


def _empty(value: Any) -> bool:
    return value in (None, "", [], {})


# ------------------------------------------------------------------ configuration


def config_key(kind: str, record: Mapping[str, Any], by: str = "id") -> str:
    """How records of one kind are matched: by id within a site (``by="id"``), by name across
    sites (``by="name"``, ids differ there), always within their project or field."""
    scope = [str(record[k]) for k in ("fieldId", "contextId", "projectId") if record.get(k)]
    if kind == "workflows":
        ident = str(record.get("name"))
    elif kind in ("workflow_schemes", "project_schemes"):
        ident = ""
    elif by == "name" and (record.get("name") or record.get("value")):
        ident = str(record.get("name") or record.get("value"))
    else:
        ident = str(record.get("id") or record.get("accountId") or record.get("key"))
    return "/".join([*scope, ident])


def describe(kind: str, record: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """A configuration object in words: ``option "High" of Severity``."""
    title = record.get("name") or record.get("value") or record.get("key") or record.get("id")
    noun = kind.rstrip("s").replace("_", " ")
    text = f'{noun} "{title}"'
    if record.get("fieldId"):
        text += f" of {names.get(str(record['fieldId']), record['fieldId'])}"
    if record.get("projectId"):
        text += (
            f" in project {names.get('project:' + str(record['projectId']), record['projectId'])}"
        )
    if kind in ("workflow_schemes", "project_schemes"):
        text = f"{noun}s of project {names.get('project:' + str(record['projectId']), record['projectId'])}"
    return _clip(text)


def config_changes(
    before: Mapping[str, Iterable[Mapping[str, Any]]],
    after: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    names: Mapping[str, str] | None = None,
    by: str = "id",
    kinds: Iterable[str] = COMPARED_KINDS,
) -> list[Change]:
    """Configuration records added, removed and changed between two sides (kind by kind). A
    kind one side lacks entirely (an older snapshot, a part it could not read) is not compared."""
    names = names or {}
    out: list[Change] = []
    for kind in kinds:
        if kind not in before or kind not in after:
            continue
        old = {config_key(kind, r, by): r for r in before[kind]}
        new = {config_key(kind, r, by): r for r in after[kind]}
        for key in sorted(set(old) | set(new)):
            a, b = old.get(key), new.get(key)
            if a is None:
                out.append(Change(kind, CREATED, describe(kind, b, names)))
            elif b is None:
                out.append(Change(kind, DELETED, describe(kind, a, names)))
            else:
                label = describe(kind, b, names)
                for path, x, y in record_differences(a, b, ignore_ids=by == "name"):
                    out.append(Change(kind, MODIFIED, label, path, render(x), render(y)))
    return out


def record_differences(
    a: Any, b: Any, path: str = "", *, ignore_ids: bool = False
) -> list[tuple[str, Any, Any]]:
    """``(path, before, after)`` for every leaf that differs. Lists of records are matched by
    their id or name (``transitions[Approve].toStatusReference``); other lists as a whole."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key in IGNORED_KEYS or (ignore_ids and key in ("id", "projectId", "fieldId")):
                continue
            sub = f"{path}.{key}" if path else str(key)
            out += record_differences(a.get(key), b.get(key), sub, ignore_ids=ignore_ids)
        return out
    if isinstance(a, list) and isinstance(b, list) and _keyed(a) and _keyed(b):
        left, right = _by_label(a, ignore_ids), _by_label(b, ignore_ids)
        # A renamed item keeps its id: match on the id, name it as it is now.
        left_ids = {_ident(v, ignore_ids): k for k, v in left.items()}
        out = []
        for label, item in right.items():
            old_label = left_ids.pop(_ident(item, ignore_ids), None)
            sub = f"{path}[{label}]"
            if old_label is None:
                out.append((sub, None, item))
            else:
                out += record_differences(left[old_label], item, sub, ignore_ids=ignore_ids)
        for old_label in left_ids.values():
            out.append((f"{path}[{old_label}]", left[old_label], None))
        return out
    if _canonical(a) == _canonical(b) or (_empty(a) and _empty(b)):
        return []
    return [(path, a, b)]


def _keyed(items: list) -> bool:
    return bool(items) and all(
        isinstance(i, dict) and (i.get("id") is not None or i.get("name") is not None)
        for i in items
    )


def _by_label(items: list[dict], by_name: bool) -> dict[str, dict]:
    """Items by what matches them across the two sides: the id (or the name across sites),
    shown with the name a person knows them by."""
    out = {}
    for item in items:
        if (by_name or item.get("id") is None) and item.get("name") is not None:
            label = str(item["name"])
        elif item.get("name") is not None:
            label = f"{item['id']} {item['name']}"
        else:
            label = str(item["id"])
        out[label] = item
    return out


def _ident(item: dict, by_name: bool) -> str:
    if (by_name or item.get("id") is None) and item.get("name") is not None:
        return f"n:{item['name']}"
    return f"i:{item['id']}"
