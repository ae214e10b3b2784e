"""The per-issue diff of a roll-back: the issue as it is now against its snapshot record.

``issue_diff`` is pure: it takes the snapshot's record, the issue as Jira shows it now (with
its complete comments, worklogs and remote links where they matter) and says

* ``fields``: each field that differs, ``{"field", "name", "now", "snapshot"}`` (readable),
  and ``put``: the one ``PUT issue`` body that sets them back (only those fields);
* ``status``: the status to reach through transitions, when it differs;
* ``add``: what the snapshot holds and the issue lost (comments — or a comment's edited body —,
  worklogs, attachments, remote links, links), by their snapshot ids;
* ``remove``: what was added since the snapshot, when the roll-back is asked to remove it,
  by their ids now; else ``added_since`` counts it (left alone).

A part counts as present when its id is still there, or when a copy a roll-back (or a restore)
wrote is there: a comment whose body, without its "Originally by" line, is the snapshot's, a
worklog with the same start and time spent, an attachment with the same name and size, a remote
link with the same global id or URL, a link of the same type to the same issue. Computing the
diff again after an interruption therefore never asks for a part twice.
"""

from __future__ import annotations

from typing import Any

from backups.restore import mapping as maps
from backups.restore.provenance import strip_provenance
from backups.rollback import values

PART_KINDS = ("comments", "worklogs", "attachments", "remote_links", "links")


def issue_diff(
    record: dict[str, Any],
    current: dict[str, Any],
    *,
    kinds: dict[str, str],
    names: dict[str, str],
    considered: list[str] | None,
    parts: dict[str, list[dict[str, Any]] | None],
    remove_added: bool = False,
) -> dict[str, Any]:
    """The differences of one issue (see the module). ``considered``: the fields the roll-back
    may write (None: every field it can); ``parts``: the issue's complete comments, worklogs
    and remote links now (None for a kind not read: nothing of it to bring back)."""
    snap = record.get("fields") or {}
    now = current.get("fields") or {}
    wanted = [*list(kinds), values.STATUS] if considered is None else considered
    fields: list[dict[str, str]] = []
    put_fields: dict[str, Any] = {}
    put_update: dict[str, Any] = {}
    status = None
    for field_id in wanted:
        if field_id == values.STATUS:
            status = _status(snap, now)
            continue
        kind = kinds.get(field_id)
        if kind is None or (field_id not in now and field_id not in values.SYSTEM_KINDS):
            continue  # not writable, or the field no longer exists on the site
        before, after = snap.get(field_id), now.get(field_id)
        if values.comparable(kind, before) == values.comparable(kind, after):
            continue
        value = values.writable(kind, before)
        if kind == "priority" and value is None:
            continue  # a priority cannot be emptied
        fields.append(
            {
                "field": field_id,
                "name": names.get(field_id, field_id),
                "now": values.readable(kind, after),
                "snapshot": values.readable(kind, before),
            }
        )
        if field_id == "parent" and value is None:
            put_update["parent"] = [{"set": {"none": True}}]
        else:
            put_fields[field_id] = value
    put: dict[str, Any] = {}
    if put_fields:
        put["fields"] = put_fields
    if put_update:
        put["update"] = put_update
    add, remove = _parts(record, current, parts)
    out: dict[str, Any] = {"fields": fields, "put": put, "status": status, "add": add}
    if remove_added:
        out["remove"] = remove
    else:
        out["added_since"] = {k: len(v) for k, v in remove.items() if v}
    return out


def is_empty(diff: dict[str, Any]) -> bool:
    """Nothing to write."""
    return not (
        diff.get("put")
        or diff.get("status")
        or any((diff.get("add") or {}).values())
        or any((diff.get("remove") or {}).values())
    )


def counts(diff: dict[str, Any]) -> dict[str, int]:
    """How many of each kind of difference (for reports)."""
    out = {"fields": len(diff.get("fields") or []), "status": int(bool(diff.get("status")))}
    for kind, ids in (diff.get("add") or {}).items():
        if ids:
            out[kind] = len(ids)
    for kind, ids in (diff.get("remove") or {}).items():
        if ids:
            out[f"{kind}_removed"] = len(ids)
    return out


def _status(snap: dict[str, Any], now: dict[str, Any]) -> dict[str, Any] | None:
    before = (snap.get("status") or {}).get("name")
    after = now.get("status") or {}
    if not before or str(before).lower() == str(after.get("name", "")).lower():
        return None
    return {
        "now": after.get("name", ""),
        "now_id": str(after.get("id", "")),
        "snapshot": before,
        "resolution": (snap.get("resolution") or {}).get("name"),
    }


# -- parts ------------------------------------------------------------------------------------


def _parts(
    record: dict[str, Any], current: dict[str, Any], parts: dict[str, list | None]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    now = current.get("fields") or {}
    add: dict[str, list[str]] = {}
    remove: dict[str, list[str]] = {}
    comments = parts.get("comments")
    if comments is not None:
        add["comments"], add["edit_comments"], remove["comments"] = _comments(
            record.get("comments") or [], comments
        )
    worklogs = parts.get("worklogs")
    if worklogs is not None:
        add["worklogs"], remove["worklogs"] = _match(
            record.get("worklogs") or [],
            worklogs,
            lambda w: (w.get("started"), w.get("timeSpentSeconds")),
        )
    add["attachments"], remove["attachments"] = _match(
        record.get("attachments") or [],
        now.get("attachment") or [],
        lambda a: (a.get("filename"), a.get("size")),
    )
    remote = parts.get("remote_links")
    if remote is not None:
        add["remote_links"], remove["remote_links"] = _match(
            record.get("remoteLinks") or [],
            remote,
            lambda r: r.get("globalId") or (r.get("object") or {}).get("url"),
        )
    add["links"], remove["links"] = _match(
        (record.get("fields") or {}).get("issuelinks") or [],
        now.get("issuelinks") or [],
        link_marker,
    )
    return add, remove


def link_marker(link: dict[str, Any]) -> tuple[str, str, str]:
    """(type, direction, other issue id): what makes two links the same link."""
    kind = str((link.get("type") or {}).get("name", "")).lower()
    if "outwardIssue" in link:
        return kind, "outward", str(link["outwardIssue"].get("id"))
    return kind, "inward", str((link.get("inwardIssue") or {}).get("id"))


def _match(snapshot: list[dict], now: list[dict], marker) -> tuple[list[str], list[str]]:
    """(snapshot ids missing now, ids now that the snapshot does not hold)."""
    now_ids = {str(x.get("id")) for x in now}
    snap_ids = {str(x.get("id")) for x in snapshot}
    extra = [x for x in now if str(x.get("id")) not in snap_ids]
    pool = [marker(x) for x in extra]
    missing = []
    for item in snapshot:
        if str(item.get("id")) in now_ids:
            continue
        found = marker(item)
        if found in pool:  # a copy written back since
            index = pool.index(found)
            pool.pop(index)
            extra.pop(index)
            continue
        missing.append(str(item.get("id")))
    return missing, [str(x.get("id")) for x in extra]


def _comments(snapshot: list[dict], now: list[dict]) -> tuple[list[str], list[str], list[str]]:
    """(comments to add again, comments whose body to set back, comments added since)."""
    by_id = {str(c.get("id")): c for c in now}
    edited = [
        str(c.get("id"))
        for c in snapshot
        if str(c.get("id")) in by_id
        and maps.canonical(by_id[str(c.get("id"))].get("body")) != maps.canonical(c.get("body"))
    ]
    missing, extra = _match(
        snapshot, now, lambda c: maps.canonical(strip_provenance(c.get("body")))
    )
    return missing, edited, extra
