"""Jira Cloud REST v3: issue search (`search/jql`, approximate count), `issue/bulkfetch` and
`issue/{key}`. Pages are spliced from cached per-issue JSON bytes."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from sandbox import jql, render
from sandbox.api import ApiError, Ctx, Result, to_int
from sandbox.content import issue_doc
from sandbox.model import BASE_BYTES, Issue

SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
PAGE_TOKEN_TTL = 7 * 86400


def search_removed(ctx: Ctx) -> Result:
    raise ApiError(410, SEARCH_REMOVED)


def _search_params(ctx: Ctx) -> dict[str, Any]:
    if ctx.request.method == "GET":
        args = ctx.request.args
        return {
            "jql": args.get("jql"),
            "nextPageToken": args.get("nextPageToken"),
            "maxResults": args.get("maxResults"),
            "fields": args.getlist("fields") or None,
            "expand": args.get("expand"),
            "properties": args.getlist("properties") or None,
        }
    body = ctx.body_dict()
    if isinstance(body.get("expand"), list):
        body["expand"] = ",".join(body["expand"])
    return body


def run_query(ctx: Ctx, text: str | None) -> list[Issue]:
    """Issues matching the JQL, cached per site revision (searches are paged repeatedly)."""
    if not text or not text.strip():
        raise ApiError(400, jql.UNBOUNDED)
    site = ctx.site
    cache_key = (site.rev, text)
    cached = site.query_cache.get(cache_key)
    if cached is not None:
        return cached
    try:
        query = jql.parse(text, site, ctx.now, lambda i: issue_doc(site, i))
    except jql.JqlError as exc:
        raise ApiError(400, str(exc)) from exc
    issues = [i for i in site.live_issues() if query.predicate(i)]
    for field, descending in reversed(query.order):
        issues.sort(key=jql.sort_key(field, site), reverse=descending)
    site.query_cache.put(cache_key, issues)
    return issues


def _encode_token(ctx: Ctx, offset: int, text: str) -> str:
    payload = {
        "o": offset,
        "q": hashlib.sha1(text.encode()).hexdigest()[:12],
        "e": int(ctx.now + PAGE_TOKEN_TTL),
    }
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _decode_token(ctx: Ctx, token: str, text: str) -> int:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = int(payload["o"])
        same_query = payload["q"] == hashlib.sha1(text.encode()).hexdigest()[:12]
        expired = payload["e"] < ctx.now
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, "The provided next page token is invalid or expired.") from exc
    if not same_query or expired:
        raise ApiError(400, "The provided next page token is invalid or expired.")
    return offset


def _with_issues(ctx: Ctx, items: list[bytes], key: str, extra: dict[str, Any]) -> bytes:
    """Splice cached issue bytes (already based) into a JSON object in one copy."""
    tail = orjson.dumps(extra).replace(BASE_BYTES, ctx.base.encode()) if extra else b"{}"
    parts = [b'{"', key.encode(), b'":[']
    for n, item in enumerate(items):
        if n:
            parts.append(b",")
        parts.append(item)
    parts.append(b"]," + tail[1:] if extra else b"]}")
    return b"".join(parts)


def search_jql(ctx: Ctx) -> Result:
    params = _search_params(ctx)
    text = params.get("jql")
    selection = render.FieldSelection(params.get("fields"), default="id")
    expand = render.parse_list(params.get("expand"))
    properties = render.parse_list(params.get("properties"))
    if len(properties) > 5:
        raise ApiError(400, "The maximum number of properties is 5.")
    cap = 5000 if selection.only_ids and not expand else 100
    size = to_int(params.get("maxResults"), "maxResults", 50, maximum=cap)
    issues = run_query(ctx, text)
    token = params.get("nextPageToken")
    offset = _decode_token(ctx, token, text) if token else 0
    chunk = issues[offset : offset + size]
    base = ctx.base.encode()
    items = [
        render.issue_bytes(ctx.site, i, selection, expand, properties, base=base) for i in chunk
    ]
    is_last = offset + len(chunk) >= len(issues)
    extra: dict[str, Any] = {"isLast": is_last}
    if not is_last:
        extra["nextPageToken"] = _encode_token(ctx, offset + len(chunk), text)
    if "names" in expand or "schema" in expand:
        sample = {}
        for issue in chunk:
            for name, value in issue_doc(ctx.site, issue)["fields"].items():
                if selection.wants(name):
                    sample[name] = value
        if "names" in expand:
            extra["names"] = render.field_names(ctx.site, sample)
        if "schema" in expand:
            extra["schema"] = render.field_schemas(ctx.site, sample)
    return Result(body=_with_issues(ctx, items, "issues", extra), core=len(chunk), based=True)


def approximate_count(ctx: Ctx) -> Result:
    body = ctx.body_dict()
    return Result(body={"count": len(run_query(ctx, body.get("jql")))})


def bulkfetch(ctx: Ctx) -> Result:
    body = ctx.body_dict()
    refs = body.get("issueIdsOrKeys")
    if not isinstance(refs, list) or not refs:
        raise ApiError(400, "issueIdsOrKeys must contain at least one issue.")
    if len(refs) > 100:
        raise ApiError(400, "The number of issueIdsOrKeys must be 100 or fewer.")
    selection = render.FieldSelection(body.get("fields"), default="*navigable")
    expand = render.parse_list(body.get("expand"))
    properties = render.parse_list(body.get("properties"))
    found, errors = [], []
    for ref in refs:
        issue = ctx.site.issue(str(ref))
        if issue is None:
            errors.append(
                {
                    "id": str(ref),
                    "errorMessage": "Issue does not exist or you do not have permission to see it.",
                }
            )
        else:
            found.append(issue)
    found = sorted({i.id: i for i in found}.values(), key=lambda i: i.id)
    base = ctx.base.encode()
    items = [
        render.issue_bytes(ctx.site, i, selection, expand, properties, base=base) for i in found
    ]
    body = _with_issues(ctx, items, "issues", {"issueErrors": errors})
    return Result(body=body, core=len(found), based=True)


def issue_get(ctx: Ctx, ref: str) -> Result:
    issue = ctx.issue(ref)
    selection = render.FieldSelection(ctx.request.args.getlist("fields") or None, default="*all")
    expand = render.parse_list(ctx.arg("expand"))
    properties = render.parse_list(ctx.request.args.getlist("properties") or None)
    base = ctx.base.encode()
    body = render.issue_bytes(ctx.site, issue, selection, expand, properties, cap=100, base=base)
    return Result(body=body, core=1, based=True)
