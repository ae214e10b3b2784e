"""Jira Cloud REST v3: the parts of an issue a backup reads apart from it: changelog, comments,
worklogs, remote links, properties and attachments (metadata, content, media downloads)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sandbox import media
from sandbox.api import ApiError, Ctx, Result, offset_page, to_int
from sandbox.attachments import attachment_bytes
from sandbox.content import SUB_ID, histories_of, issue_doc
from sandbox.model import BASE, Issue, Site


def changelog(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    histories = histories_of(ctx.site, issue)
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 100, maximum=100)
    page = offset_page(histories, start, size, f"/rest/api/3/issue/{issue.key}/changelog")
    return Result(body=page, core=len(page["values"]))


def changelog_bulkfetch(ctx: Ctx) -> Result:
    body = ctx.body_dict()
    refs = body.get("issueIdsOrKeys")
    if not isinstance(refs, list) or not refs or len(refs) > 1000:
        raise ApiError(400, "issueIdsOrKeys must contain between 1 and 1000 issues.")
    size = to_int(body.get("maxResults"), "maxResults", 1000, maximum=10000, minimum=1)
    field_ids = set(body.get("fieldIds") or [])
    token = body.get("nextPageToken")
    offset = 0
    if token:
        try:
            offset = int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
        except ValueError as exc:
            raise ApiError(400, "The provided next page token is invalid.") from exc
    issues = sorted(
        {i.id: i for i in (ctx.site.issue(str(r)) for r in refs) if i}.values(), key=lambda i: i.id
    )
    flat = []
    for issue in issues:
        for history in histories_of(ctx.site, issue):
            if field_ids:
                items = [it for it in history["items"] if it.get("fieldId") in field_ids]
                if not items:
                    continue
                history = {**history, "items": items}
            flat.append((issue.id, history))
    chunk = flat[offset : offset + size]
    grouped: dict[int, list] = {}
    for issue_id, history in chunk:
        grouped.setdefault(issue_id, []).append(history)
    result: dict[str, Any] = {
        "issueChangeLogs": [{"issueId": str(k), "changeHistories": v} for k, v in grouped.items()]
    }
    if offset + len(chunk) < len(flat):
        result["nextPageToken"] = base64.urlsafe_b64encode(
            str(offset + len(chunk)).encode()
        ).decode()
    return Result(body=result, core=len(chunk))


def comments(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    items = list(issue_doc(ctx.site, issue)["comments"])
    if ctx.arg("orderBy") in ("-created", "-created "):
        items.reverse()
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 100, maximum=100)
    chunk = items[start : start + size]
    body = {"startAt": start, "maxResults": size, "total": len(items), "comments": chunk}
    return Result(body=body, core=len(chunk))


def _by_sub_id(ctx: Ctx, ids: Any, part: str) -> list[dict]:
    if not isinstance(ids, list) or len(ids) > 1000:
        raise ApiError(400, "ids must be a list of at most 1000 ids.")
    found = []
    for raw in ids:
        try:
            sub_id = int(raw)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, f"Invalid id {raw!r}.") from exc
        issue = ctx.site.issue(str(sub_id // SUB_ID))
        if issue is None:
            continue
        for item in issue_doc(ctx.site, issue)[part]:
            if item["id"] == str(sub_id):
                found.append(item)
    return found


def comment_list(ctx: Ctx) -> Result:
    found = _by_sub_id(ctx, ctx.body_dict().get("ids"), "comments")
    page = offset_page(found, 0, 1000, "/rest/api/3/comment/list")
    return Result(body=page, core=len(found))


def worklogs(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    items = issue_doc(ctx.site, issue)["worklogs"]
    start, size = ctx.int_arg("startAt", 0), ctx.int_arg("maxResults", 5000, maximum=5000)
    chunk = items[start : start + size]
    body = {"startAt": start, "maxResults": size, "total": len(items), "worklogs": chunk}
    return Result(body=body, core=len(chunk))


def _parse_ms(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)


def worklog_updated(ctx: Ctx) -> Result:
    since = ctx.int_arg("since", 0)
    changes = []
    for issue in ctx.site.live_issues():
        for worklog in issue_doc(ctx.site, issue)["worklogs"]:
            updated = _parse_ms(worklog["updated"])
            if updated > since:
                changes.append((updated, int(worklog["id"])))
    changes.sort()
    chunk = changes[:1000]
    last = len(chunk) == len(changes)
    until = chunk[-1][0] if chunk else since
    body: dict[str, Any] = {
        "values": [{"worklogId": wid, "updatedTime": ms, "properties": []} for ms, wid in chunk],
        "since": since,
        "until": until,
        "self": f"{BASE}/rest/api/3/worklog/updated?since={since}",
        "lastPage": last,
    }
    if not last:
        body["nextPage"] = f"{BASE}/rest/api/3/worklog/updated?since={until}"
    return Result(body=body, core=len(chunk))


def worklog_list(ctx: Ctx) -> Result:
    found = _by_sub_id(ctx, ctx.body_dict().get("ids"), "worklogs")
    return Result(body=found, core=len(found))


def remote_links(ctx: Ctx, ref: str) -> Result:
    items = issue_doc(ctx.site, ctx.issue(ref))["remotelinks"]
    return Result(body=items, core=len(items))


def properties(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    keys = [
        {"key": k, "self": f"{BASE}/rest/api/3/issue/{issue.id}/properties/{k}"}
        for k in issue_doc(ctx.site, issue)["properties"]
    ]
    return Result(body={"keys": keys}, core=len(keys))


def property_get(ctx: Ctx, ref: str, prop: str) -> Result:
    issue = ctx.issue(ref)
    props = issue_doc(ctx.site, issue)["properties"]
    if prop not in props:
        raise ApiError(404, f"The property with key '{prop}' does not exist.")
    return Result(body={"key": prop, "value": props[prop]}, core=1)


# ------------------------------------------------------------------ attachments


def find_attachment(site: Site, raw_id: str) -> tuple[Issue, dict]:
    if not raw_id.isdigit():
        raise ApiError(404, "The attachment with id does not exist.")
    att_id = int(raw_id)
    issue = site.issue(str(att_id // SUB_ID))
    if issue is not None:
        for attachment in issue_doc(site, issue)["attachments"]:
            if attachment["id"] == raw_id:
                return issue, attachment
    raise ApiError(404, f"The attachment with id '{raw_id}' does not exist")


def attachment_meta(ctx: Ctx, raw_id: str) -> Result:
    _issue, attachment = find_attachment(ctx.site, raw_id)
    body = {**attachment, "id": int(attachment["id"])}
    return Result(body=body, core=1)


def attachment_content_bytes(site: Site, attachment: dict) -> bytes:
    att_id = int(attachment["id"])
    if att_id in site.uploads:
        return site.uploads[att_id]
    return attachment_bytes(site.seed, att_id, attachment["mimeType"], attachment["size"])


def media_signature(state, site: Site, file_id: str) -> str:
    key = f"{state.seed}/media".encode()
    return hmac.new(key, f"{site.cloud_id}/{file_id}".encode(), hashlib.sha256).hexdigest()[:32]


def attachment_content(ctx: Ctx, raw_id: str) -> Result:
    _issue, attachment = find_attachment(ctx.site, raw_id)
    if ctx.arg("redirect", "true").lower() != "false":
        # Atlassian redirects to its media service, naming the file by its media id (what ADF
        # media nodes refer to); the sandbox serves that from /_media/.
        file_id = media.media_id(ctx.site, raw_id)
        signature = media_signature(ctx.state, ctx.site, file_id)
        name = quote(attachment["filename"])
        location = (
            f"{ctx.request.host_url.rstrip('/')}/_media/{ctx.site.cloud_id}/file/{file_id}"
            f"/binary?token={signature}&client=sandbox&collection=&dl=true&name={name}"
        )
        return Result(
            status=303, body=b"", core=1, headers={"Location": location}, mimetype="text/plain"
        )
    content = attachment_content_bytes(ctx.site, attachment)
    status, body, headers = ranged(ctx.request.headers.get("Range"), content)
    return Result(
        status=status, body=body, core=1, headers=headers, mimetype=attachment["mimeType"]
    )


def ranged(range_header: str | None, content: bytes) -> tuple[int, bytes, dict[str, str]]:
    """200 with the whole content, 206 with one byte range, or 416."""
    headers = {"Accept-Ranges": "bytes"}
    if not range_header:
        return 200, content, headers
    total = len(content)
    try:
        unit, spec = range_header.split("=", 1)
        start_text, end_text = spec.split(",")[0].strip().split("-", 1)
        if unit.strip() != "bytes":
            raise ValueError
        if start_text == "":
            start, end = max(0, total - int(end_text)), total - 1
        else:
            start = int(start_text)
            end = min(int(end_text), total - 1) if end_text else total - 1
        if start > end or start >= total:
            raise ValueError
    except ValueError:
        return 416, b"", {"Content-Range": f"bytes */{total}"}
    headers["Content-Range"] = f"bytes {start}-{end}/{total}"
    return 206, content[start : end + 1], headers
