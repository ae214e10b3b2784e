"""Issue JSON as Jira returns it, with field selection, expands and a bytes cache.

Serialized issues are cached per (issue revision, view) with the base URL left as a
placeholder, so a page of 100 fully populated issues is mostly a join of cached bytes.
"""

from __future__ import annotations

import html
from typing import Any

import orjson

from sandbox import catalog, fastjson, structure
from sandbox.clock import iso_ms_z
from sandbox.content import headline, histories_of, issue_doc, plain
from sandbox.model import BASE, BASE_BYTES, Issue, Site

ALL_EXPANDS = fastjson.ALL_EXPANDS


class FieldSelection:
    """A parsed `fields` parameter: `*all`, `*navigable`, names, and `-name` exclusions."""

    def __init__(self, raw: str | list[str] | None, default: str) -> None:
        if raw is None or raw == [] or raw == "":
            items = [default]
        elif isinstance(raw, str):
            items = raw.split(",")
        else:
            items = [part for value in raw for part in str(value).split(",")]
        items = [i.strip() for i in items if i.strip()]
        self.all = "*all" in items
        self.navigable = "*navigable" in items
        self.include = frozenset(i for i in items if not i.startswith(("-", "*")))
        self.exclude = frozenset(i[1:] for i in items if i.startswith("-"))
        self.key = (self.all, self.navigable, self.include, self.exclude)

    @property
    def only_ids(self) -> bool:
        return not (self.all or self.navigable) and self.include <= {"id", "key"}

    def wants(self, name: str) -> bool:
        if name in self.exclude:
            return False
        if self.all or name in self.include:
            return True
        return self.navigable and name not in catalog.NOT_NAVIGABLE


def parse_list(raw: str | list[str] | None) -> frozenset[str]:
    if not raw:
        return frozenset()
    if isinstance(raw, str):
        raw = [raw]
    return frozenset(p.strip() for value in raw for p in str(value).split(",") if p.strip())


def issue_bytes(
    site: Site,
    issue: Issue,
    fields: FieldSelection,
    expand: frozenset[str] = frozenset(),
    properties: frozenset[str] = frozenset(),
    cap: int = 20,
    base: bytes = BASE_BYTES,
) -> bytes:
    """The issue's JSON with `self` links starting with `base` (cached per base URL)."""
    if not expand and not properties and fields.only_ids and "key" not in fields.include:
        # What a backup's search/jql pages of ids hold: cheaper to write than to look up.
        return b'{"id":"%d"}' % issue.id
    key = (issue.id, issue.rev, fields.key, expand, properties, cap, base)
    cached = site.json_cache.get(key)
    if cached is None:
        # Generated content is built with the base URL in place; pinned content (and a pinned
        # linked issue) still carries the placeholder, hence the check.
        text = None
        base_text = base.decode()
        if fields.all and not fields.exclude and not expand and not properties:
            links = (
                orjson.dumps(issue_links(site, issue, base_text)).decode()
                if site.links.get(issue.id)
                else "[]"
            )
            if base != BASE_BYTES and BASE in links:
                links = links.replace(BASE, base_text)
            structure = structure_text(site, issue, base_text)
            # Comes back with `base` in every link already (no scan of the ~20 KiB result).
            text = fastjson.issue_all_text(site, issue, base_text, cap, links, structure)
        if text is not None:
            cached = text.encode()
        else:
            cached = orjson.dumps(
                issue_json(site, issue, fields, expand, properties, cap, base_text)
            )
            if base != BASE_BYTES and BASE_BYTES in cached:
                cached = cached.replace(BASE_BYTES, base)
        site.json_cache.put(key, cached)
    return cached


def issue_json(
    site: Site,
    issue: Issue,
    fields: FieldSelection,
    expand: frozenset[str] = frozenset(),
    properties: frozenset[str] = frozenset(),
    cap: int = 20,
    base: str = BASE,
) -> dict[str, Any]:
    if fields.only_ids and not expand and not properties:
        data: dict[str, Any] = {"id": str(issue.id)}
        if "key" in fields.include:
            data["key"] = issue.key
            data["self"] = f"{base}/rest/api/3/issue/{issue.id}"
        return data
    doc = issue_doc(site, issue, base)
    data = {
        "expand": ALL_EXPANDS,
        "id": str(issue.id),
        "self": f"{base}/rest/api/3/issue/{issue.id}",
        "key": issue.key,
    }
    if fields.all and not fields.exclude:
        selected = dict(doc["fields"])  # the common backup case, without per-field checks
    else:
        selected = {k: v for k, v in doc["fields"].items() if fields.wants(k)}
    for name, value in structure_fields(site, issue, base).items():
        if fields.wants(name):
            selected[name] = value
    if site.option_changes:
        _apply_option_changes(site, selected)
    if fields.wants("issuelinks"):
        selected["issuelinks"] = issue_links(site, issue, base)
    if fields.wants("attachment"):
        selected["attachment"] = doc["attachments"]
    if fields.wants("comment"):
        comments = doc["comments"]
        selected["comment"] = {
            "comments": comments[:cap],
            "self": f"{base}/rest/api/3/issue/{issue.id}/comment",
            "maxResults": cap,
            "total": len(comments),
            "startAt": 0,
        }
    if fields.wants("worklog"):
        worklogs = doc["worklogs"]
        selected["worklog"] = {
            "startAt": 0,
            "maxResults": cap,
            "total": len(worklogs),
            "worklogs": worklogs[:cap],
        }
    data["fields"] = selected
    if "changelog" in expand:
        histories = histories_of(site, issue, base)
        data["changelog"] = {
            "startAt": 0,
            "maxResults": min(cap, len(histories)),
            "total": len(histories),
            "histories": histories[:cap],
        }
    if "renderedFields" in expand:
        data["renderedFields"] = {
            name: adf_to_html(site, doc["fields"].get(name))
            for name in ("description", "environment", "customfield_10026")
            if fields.wants(name)
        }
    if "names" in expand:
        data["names"] = field_names(site, selected)
    if "schema" in expand:
        data["schema"] = field_schemas(site, selected)
    if properties:
        props = doc["properties"]
        wanted = props if "*all" in properties else {k: props[k] for k in properties if k in props}
        data["properties"] = dict(wanted)
    return data


def issue_ref(site: Site, other: Issue, base: str = BASE) -> dict[str, Any]:
    """How one issue shows another (a link's other end, a parent, a sub-task)."""
    head = headline(site, other, base)
    return {
        "id": str(other.id),
        "key": other.key,
        "self": f"{base}/rest/api/3/issue/{other.id}",
        "fields": {
            "summary": head["summary"],
            "status": head["status"],
            "priority": head["priority"],
            "issuetype": head["issuetype"],
        },
    }


def structure_fields(site: Site, issue: Issue, base: str = BASE) -> dict[str, Any]:
    """Fields that depend on other issues and on the board rather than on the issue's own
    content: `subtasks`, `parent` (only when it has one), and on Jira Software sites the
    Rank and Sprint custom fields."""
    out: dict[str, Any] = {"subtasks": []}
    for child_id in site.children.get(issue.id, ()):
        child = site.issues.get(child_id)
        if child is not None and not child.deleted:
            ref = issue_ref(site, child, base)
            if ref["fields"]["issuetype"].get("subtask"):
                out["subtasks"].append(ref)
    parent = site.issues.get(site.parents.get(issue.id, -1))
    if parent is not None and not parent.deleted:
        out["parent"] = issue_ref(site, parent, base)
    if "agile" in site.features:
        key = site.ranks.get(issue.id)
        out[catalog.RANK_FIELD] = structure.rank_value(key) if key else None
        sprints = [sprint_field(site.sprints[s]) for s in site.issue_sprints.get(issue.id, ())]
        out[catalog.SPRINT_FIELD] = sprints or None
    return out


def structure_text(site: Site, issue: Issue, base: str) -> str:
    """`structure_fields` as the text the cold path splices in after `"timetracking":{},`.
    Built from cached pieces: another issue's reference is kept per (its id, its revision)
    and a sprint list per site revision, so a parent with many children is written once."""
    children = site.children.get(issue.id)
    parent_id = site.parents.get(issue.id)
    if not site.features and parent_id is None and not children:
        return '"subtasks":[]'  # every classic generated issue: no need to build anything
    subtasks = []
    for child_id in children or ():
        child = site.issues.get(child_id)
        if child is not None and not child.deleted:
            text = _ref_text(site, child, base)
            if '"subtask":true' in text:
                subtasks.append(text)
    parts = [f'"subtasks":[{",".join(subtasks)}]']
    parent = site.issues.get(parent_id) if parent_id is not None else None
    if parent is not None and not parent.deleted:
        parts.append(f'"parent":{_ref_text(site, parent, base)}')
    if "agile" in site.features:
        key = site.ranks.get(issue.id)
        parts.append(f'"{catalog.RANK_FIELD}":' + (f'"0|{key}:"' if key else "null"))
        ids = tuple(site.issue_sprints.get(issue.id, ()))
        sprints = site.sprint_texts.get(ids)
        if sprints is None:
            listed = [sprint_field(site.sprints[s]) for s in ids]
            sprints = site.sprint_texts[ids] = orjson.dumps(listed or None).decode()
        parts.append(f'"{catalog.SPRINT_FIELD}":{sprints}')
    return ",".join(parts)


def _ref_text(site: Site, other: Issue, base: str) -> str:
    key = (other.id, other.rev, base)
    text = site.ref_cache.get(key)
    if text is None:
        text = orjson.dumps(issue_ref(site, other, base)).decode()
        if base != BASE and BASE in text:
            text = text.replace(BASE, base)
        site.ref_cache.put(key, text)
    return text


def sprint_field(sprint: Any) -> dict[str, Any]:
    """A sprint as the Sprint custom field shows it on an issue."""
    data: dict[str, Any] = {
        "id": sprint.id,
        "name": sprint.name,
        "state": sprint.state,
        "boardId": sprint.board_id,
        "goal": sprint.goal,
    }
    for key, value in (
        ("startDate", sprint.start),
        ("endDate", sprint.end),
        ("completeDate", sprint.complete),
    ):
        if value is not None:
            data[key] = iso_ms_z(value)
    return data


def _apply_option_changes(site: Site, fields: dict[str, Any]) -> None:
    """Options renamed or deleted over the API show their new value, or vanish, on issues."""
    changes = site.option_changes

    def current(option: Any) -> Any:
        option = plain(site, option)
        if not isinstance(option, dict) or option.get("id") not in changes:
            return option
        value = changes[option["id"]]
        return None if value is None else {**option, "value": value}

    for field_id in catalog.CUSTOM_OPTIONS:
        if field_id not in fields:
            continue
        value = plain(site, fields[field_id])
        if isinstance(value, list):
            fields[field_id] = [o for o in (current(v) for v in value) if o is not None]
        elif value is not None:
            fields[field_id] = current(value)


def issue_links(site: Site, issue: Issue, base: str = BASE) -> list[dict[str, Any]]:
    links = []
    for link_id, type_id, direction, other_id in site.links.get(issue.id, ()):
        other = site.issues.get(other_id)
        if other is None or other.deleted:
            continue
        # From this issue's side: "A blocks B" shows B as A's outwardIssue.
        side = "outwardIssue" if direction == "outward" else "inwardIssue"
        links.append(
            {
                "id": str(link_id),
                "self": f"{base}/rest/api/3/issueLink/{link_id}",
                "type": {
                    **catalog.link_type_json(str(type_id)),
                    "self": f"{base}/rest/api/3/issueLinkType/{type_id}",
                },
                side: issue_ref(site, other, base),
            }
        )
    return links


def field_names(site: Site, fields: dict[str, Any]) -> dict[str, str]:
    names = {fid: name for fid, name, _schema in catalog.SYSTEM_FIELDS}
    names.update({f["id"]: f["name"] for f in site.custom_fields})
    return {k: names.get(k, k) for k in fields}


def field_schemas(site: Site, fields: dict[str, Any]) -> dict[str, Any]:
    schemas = {fid: schema for fid, _name, schema in catalog.SYSTEM_FIELDS if schema}
    for custom in site.custom_fields:
        schemas[custom["id"]] = {**custom["schema"], "customId": int(custom["id"].split("_")[1])}
    return {k: schemas[k] for k in fields if k in schemas}


def adf_to_html(site: Site, node: Any) -> str | None:
    node = plain(site, node)
    if node is None:
        return None
    texts: list[str] = []

    def walk(n: Any) -> None:
        if isinstance(n, dict):
            if n.get("type") == "text":
                texts.append(html.escape(n.get("text", "")))
            for child in n.get("content", []) or []:
                walk(child)
            if n.get("type") in ("paragraph", "heading", "listItem", "codeBlock"):
                texts.append("\n")

    walk(node)
    return "".join(f"<p>{line}</p>" for line in "".join(texts).split("\n") if line)
