"""What a person sees of a restored issue's past, since Jira sets authors, times and the
changelog itself: each comment and worklog starts with "Originally by NAME on DATE"; each issue
gets a readable file with where it came from (source key, site, snapshot and its time) and its
full history; inline media nodes point at the restored attachments.

Pure functions over ADF and snapshot records; ``normalize`` strips what they add, so a restored
copy compares equal to its source.
"""

from __future__ import annotations

import copy
import re
from typing import Any

PREFIX = "Originally by "
HISTORY_SUFFIX = "-history.txt"
HISTORY_PREFIX = "restored-from-"
_HISTORY_NAME = re.compile(rf"^{HISTORY_PREFIX}[A-Za-z0-9_]+-\d+{re.escape(HISTORY_SUFFIX)}$")


def _date(value: str | None) -> str:
    return (value or "an unknown date")[:16].replace("T", " ")


def provenance_text(author: dict[str, Any] | None, created: str | None) -> str:
    name = (author or {}).get("displayName") or (author or {}).get("accountId") or "someone"
    return f"{PREFIX}{name} on {_date(created)}"


def with_provenance(doc: Any, text: str) -> dict[str, Any]:
    """``doc`` (ADF, or None) with a first paragraph saying who wrote it and when."""
    paragraph = {
        "type": "paragraph",
        "content": [{"type": "text", "text": text, "marks": [{"type": "em"}]}],
    }
    if not isinstance(doc, dict) or doc.get("type") != "doc":
        return {"type": "doc", "version": 1, "content": [paragraph]}
    out = dict(doc)
    out["content"] = [paragraph, *list(doc.get("content") or [])]
    return out


def strip_provenance(doc: Any) -> Any:
    """The document as it was before ``with_provenance`` (None if it held only that line)."""
    if not isinstance(doc, dict) or doc.get("type") != "doc":
        return doc
    content = list(doc.get("content") or [])
    if not content or not _is_provenance(content[0]):
        return doc
    if len(content) == 1:
        return None
    return {**doc, "content": content[1:]}


def _is_provenance(node: Any) -> bool:
    if not isinstance(node, dict) or node.get("type") != "paragraph":
        return False
    parts = node.get("content") or []
    return (
        len(parts) == 1
        and str(parts[0].get("text", "")).startswith(PREFIX)
        and parts[0].get("marks") == [{"type": "em"}]
    )


# -- the history file ----------------------------------------------------------------------------


def history_filename(source_key: str) -> str:
    return f"{HISTORY_PREFIX}{source_key}{HISTORY_SUFFIX}"


def is_history_file(filename: str | None) -> bool:
    return bool(_HISTORY_NAME.match(filename or ""))


def history_file(
    record: dict[str, Any], *, site: dict[str, str], snapshot: dict[str, str]
) -> bytes:
    """A plain-text account of the issue's origin and every changelog entry, oldest first.
    Deterministic for a record and snapshot (a resumed restore recognises it by name and size)."""
    fields = record.get("fields") or {}
    lines = [
        f"Restored from {record.get('key')} (issue id {record.get('id')})",
        f"Site: {site.get('url') or site.get('name') or ''} (cloud id {site.get('cloud_id', '')})",
        f"Snapshot: {snapshot.get('id', '')} taken {snapshot.get('finished_at', '')}",
        f"Created: {fields.get('created') or '?'} by "
        f"{(fields.get('creator') or fields.get('reporter') or {}).get('displayName') or '?'}",
        f"Last updated: {fields.get('updated') or '?'}",
        f"Status: {(fields.get('status') or {}).get('name') or '?'}; resolution: "
        f"{(fields.get('resolution') or {}).get('name') or 'none'}",
        "",
        "History (Jira cannot write a changelog: this is the original one)",
        "",
    ]
    histories = record.get("changelog") or []
    if not histories:
        lines.append("(no changes recorded)")
    for entry in histories:
        who = (entry.get("author") or {}).get("displayName") or "someone"
        lines.append(f"{_date(entry.get('created'))}  {who}")
        for item in entry.get("items") or []:
            old = item.get("fromString") if item.get("fromString") is not None else item.get("from")
            new = item.get("toString") if item.get("toString") is not None else item.get("to")
            lines.append(f"    {item.get('field')}: {old or '(none)'} -> {new or '(none)'}")
    return ("\n".join(lines) + "\n").encode()


# -- media -----------------------------------------------------------------------------------------


def _media_attrs(doc: Any) -> list[dict[str, Any]]:
    """The ``attrs`` of the ``media`` nodes of an ADF document, in document order."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "media":
                found.append(node.get("attrs") or {})
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    return found


def media_ids_in(doc: Any) -> list[str]:
    """Ids of the ``media`` nodes of an ADF document, in document order."""
    return [str(attrs["id"]) for attrs in _media_attrs(doc) if attrs.get("id")]


def referenced_attachments(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's attachments its description, environment or comments show inline: by
    media id, or by the file name a media node keeps in ``alt`` (``remap_media``'s two ways).
    Only these need their new media id read after the upload."""
    fields = record.get("fields") or {}
    documents = [fields.get("description"), fields.get("environment")] + [
        comment.get("body") for comment in record.get("comments") or []
    ]
    ids: set[str] = set()
    names: set[str] = set()
    for doc in documents:
        for attrs in _media_attrs(doc):
            ids.add(str(attrs.get("id")))
            names.add(str(attrs.get("alt")))
    return [
        att
        for att in record.get("attachments") or []
        if str(att.get("mediaId")) in ids or str(att.get("filename")) in names
    ]


def remap_media(doc: Any, media_map: dict[str, str], by_name: dict[str, str]) -> Any:
    """``doc`` with each media node's id replaced by the restored attachment's media id (found
    by the source media id, else by the node's ``alt`` file name). Unmapped nodes stay."""
    if not media_ids_in(doc):
        return doc
    doc = copy.deepcopy(doc)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "media":
                attrs = node.setdefault("attrs", {})
                new = media_map.get(str(attrs.get("id"))) or by_name.get(str(attrs.get("alt")))
                if new:
                    attrs["id"] = new
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    return doc
