"""Contract tests: every implemented Jira REST operation answers what Atlassian's OpenAPI
document says it answers (status codes, content types and body schemas), errors included
where the document defines them."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

SPEC = Path(__file__).resolve().parents[2] / "specs" / "jira-platform-v3.openapi.json"
PREFIX = "/rest/api/3/"
ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "restored"}]}],
}
NEW_ISSUE = {"fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Task"}, "summary": "x"}}

# (operation, expected status, request builder) — builders get a Connected and return the response.
Call = Callable[..., requests.Response]
CASES: list[tuple[str, int, Call]] = [
    ("GET myself", 200, lambda c, d: c.get("myself")),
    (
        "GET mypermissions",
        200,
        lambda c, d: c.get("mypermissions", params={"permissions": "ADMINISTER,BROWSE_PROJECTS"}),
    ),
    ("GET mypermissions", 400, lambda c, d: c.get("mypermissions")),
    ("GET serverInfo", 200, lambda c, d: c.get("serverInfo")),
    ("GET project/search", 200, lambda c, d: c.get("project/search", params={"maxResults": 1})),
    ("GET project/{projectIdOrKey}", 200, lambda c, d: c.get("project/ALPHA")),
    ("GET project/{projectIdOrKey}", 404, lambda c, d: c.get("project/NOPE")),
    (
        "GET project/{projectIdOrKey}/components",
        200,
        lambda c, d: c.get("project/ALPHA/components"),
    ),
    ("GET project/{projectIdOrKey}/versions", 200, lambda c, d: c.get("project/ALPHA/versions")),
    ("GET project/{projectIdOrKey}/version", 200, lambda c, d: c.get("project/ALPHA/version")),
    ("GET project/{projectIdOrKey}/version", 404, lambda c, d: c.get("project/NOPE/version")),
    ("GET project/{projectIdOrKey}/role", 200, lambda c, d: c.get("project/ALPHA/role")),
    ("GET project/{projectIdOrKey}/role/{id}", 200, lambda c, d: c.get("project/ALPHA/role/10002")),
    ("GET field", 200, lambda c, d: c.get("field")),
    ("GET field/{fieldId}/context", 200, lambda c, d: c.get("field/customfield_10020/context")),
    ("GET field/{fieldId}/context", 404, lambda c, d: c.get("field/customfield_99999/context")),
    (
        "GET field/{fieldId}/context/{contextId}/option",
        200,
        lambda c, d: c.get("field/customfield_10021/context/10201/option"),
    ),
    ("GET statuses/search", 200, lambda c, d: c.get("statuses/search")),
    ("GET issuetype", 200, lambda c, d: c.get("issuetype")),
    ("GET priority/search", 200, lambda c, d: c.get("priority/search")),
    ("GET issueLinkType", 200, lambda c, d: c.get("issueLinkType")),
    ("GET users/search", 200, lambda c, d: c.get("users/search", params={"maxResults": 8})),
    (
        "GET search/jql",
        200,
        lambda c, d: c.get("search/jql", params={"jql": "project = ALPHA", "maxResults": 3}),
    ),
    (
        "GET search/jql",
        200,
        lambda c, d: c.get(
            "search/jql",
            params={
                "jql": "project = ALPHA",
                "fields": "*all",
                "expand": "changelog,names,schema,renderedFields",
                "properties": "*all",
            },
        ),
    ),
    ("GET search/jql", 400, lambda c, d: c.get("search/jql", params={"jql": "order by key"})),
    (
        "POST search/jql",
        200,
        lambda c, d: c.post(
            "search/jql", json={"jql": "project = BETA", "fields": ["*all"], "maxResults": 10}
        ),
    ),
    ("POST search/jql", 400, lambda c, d: c.post("search/jql", json={"jql": ""})),
    (
        "POST search/approximate-count",
        200,
        lambda c, d: c.post("search/approximate-count", json={"jql": "project = ALPHA"}),
    ),
    (
        "POST issue/bulkfetch",
        200,
        lambda c, d: c.post(
            "issue/bulkfetch",
            json={"issueIdsOrKeys": d["all_keys"], "fields": ["*all"], "expand": ["changelog"]},
        ),
    ),
    (
        "POST issue/bulkfetch",
        400,
        lambda c, d: c.post("issue/bulkfetch", json={"issueIdsOrKeys": ["A-1"] * 101}),
    ),
    (
        "GET issue/{issueIdOrKey}",
        200,
        lambda c, d: c.get(
            f"issue/{d['rich']}", params={"expand": "changelog,renderedFields,names,schema"}
        ),
    ),
    ("GET issue/{issueIdOrKey}", 404, lambda c, d: c.get("issue/ALPHA-999")),
    ("GET issue/{issueIdOrKey}/changelog", 200, lambda c, d: c.get(f"issue/{d['rich']}/changelog")),
    ("GET issue/{issueIdOrKey}/changelog", 404, lambda c, d: c.get("issue/ALPHA-999/changelog")),
    (
        "POST changelog/bulkfetch",
        200,
        lambda c, d: c.post(
            "changelog/bulkfetch", json={"issueIdsOrKeys": d["all_keys"], "maxResults": 50}
        ),
    ),
    (
        "POST changelog/bulkfetch",
        400,
        lambda c, d: c.post("changelog/bulkfetch", json={"issueIdsOrKeys": []}),
    ),
    (
        "GET issue/{issueIdOrKey}/comment",
        200,
        lambda c, d: c.get(f"issue/{d['commented']}/comment"),
    ),
    ("GET issue/{issueIdOrKey}/comment", 404, lambda c, d: c.get("issue/ALPHA-999/comment")),
    (
        "POST issue/{issueIdOrKey}/comment",
        201,
        lambda c, d: c.post("issue/ALPHA-1/comment", json={"body": ADF}),
    ),
    (
        "POST issue/{issueIdOrKey}/comment",
        400,
        lambda c, d: c.post("issue/ALPHA-1/comment", json={"body": "plain"}),
    ),
    ("POST comment/list", 200, lambda c, d: c.post("comment/list", json={"ids": d["comment_ids"]})),
    (
        "GET issue/{issueIdOrKey}/worklog",
        200,
        lambda c, d: c.get(f"issue/{d['worklogged']}/worklog"),
    ),
    (
        "POST issue/{issueIdOrKey}/worklog",
        201,
        lambda c, d: c.post("issue/ALPHA-1/worklog", json={"timeSpentSeconds": 60, "comment": ADF}),
    ),
    ("GET worklog/updated", 200, lambda c, d: c.get("worklog/updated", params={"since": 0})),
    ("POST worklog/list", 200, lambda c, d: c.post("worklog/list", json={"ids": d["worklog_ids"]})),
    (
        "GET issue/{issueIdOrKey}/remotelink",
        200,
        lambda c, d: c.get(f"issue/{d['remotelinked']}/remotelink"),
    ),
    (
        "POST issue/{issueIdOrKey}/remotelink",
        201,
        lambda c, d: c.post(
            "issue/ALPHA-1/remotelink", json={"object": {"url": "https://x.test", "title": "X"}}
        ),
    ),
    (
        "GET issue/{issueIdOrKey}/properties",
        200,
        lambda c, d: c.get(f"issue/{d['propertied']}/properties"),
    ),
    (
        "GET issue/{issueIdOrKey}/properties/{propertyKey}",
        200,
        lambda c, d: c.get(f"issue/{d['propertied']}/properties/sandbox.metadata"),
    ),
    (
        "GET issue/{issueIdOrKey}/properties/{propertyKey}",
        404,
        lambda c, d: c.get("issue/ALPHA-1/properties/none"),
    ),
    (
        "PUT issue/{issueIdOrKey}/properties/{propertyKey}",
        201,
        lambda c, d: c.put("issue/ALPHA-1/properties/contract", json={"a": 1}),
    ),
    (
        "PUT issue/{issueIdOrKey}/properties/{propertyKey}",
        400,
        lambda c, d: c.put("issue/ALPHA-1/properties/big", json={"a": "x" * 40000}),
    ),
    ("GET attachment/{id}", 200, lambda c, d: c.get(f"attachment/{d['attachment_id']}")),
    ("GET attachment/{id}", 404, lambda c, d: c.get("attachment/1")),
    (
        "GET attachment/content/{id}",
        303,
        lambda c, d: c.get(f"attachment/content/{d['attachment_id']}", allow_redirects=False),
    ),
    (
        "GET attachment/content/{id}",
        200,
        lambda c, d: c.get(
            f"attachment/content/{d['attachment_id']}", params={"redirect": "false"}
        ),
    ),
    (
        "GET attachment/content/{id}",
        206,
        lambda c, d: c.get(
            f"attachment/content/{d['attachment_id']}",
            params={"redirect": "false"},
            headers={"Range": "bytes=0-9"},
        ),
    ),
    (
        "GET attachment/content/{id}",
        416,
        lambda c, d: c.get(
            f"attachment/content/{d['attachment_id']}",
            params={"redirect": "false"},
            headers={"Range": "bytes=99999999-"},
        ),
    ),
    ("POST issue", 201, lambda c, d: c.post("issue", json=NEW_ISSUE)),
    ("POST issue", 400, lambda c, d: c.post("issue", json={"fields": {}})),
    (
        "POST issue/bulk",
        201,
        lambda c, d: c.post("issue/bulk", json={"issueUpdates": [NEW_ISSUE, {"fields": {}}]}),
    ),
    (
        "POST issue/bulk",
        400,
        lambda c, d: c.post("issue/bulk", json={"issueUpdates": [{"fields": {}}]}),
    ),
    (
        "POST issue/{issueIdOrKey}/attachments",
        200,
        lambda c, d: c.post(
            "issue/ALPHA-1/attachments",
            headers={"X-Atlassian-Token": "no-check"},
            files={"file": ("a.txt", io.BytesIO(b"abc"), "text/plain")},
        ),
    ),
    (
        "POST issue/{issueIdOrKey}/attachments",
        403,
        lambda c, d: c.post(
            "issue/ALPHA-1/attachments", files={"file": ("a.txt", io.BytesIO(b"abc"), "text/plain")}
        ),
    ),
    (
        "POST issueLink",
        201,
        lambda c, d: c.post(
            "issueLink",
            json={
                "type": {"name": "Relates"},
                "inwardIssue": {"key": "ALPHA-1"},
                "outwardIssue": {"key": "ALPHA-2"},
            },
        ),
    ),
    (
        "POST issueLink",
        404,
        lambda c, d: c.post(
            "issueLink",
            json={
                "type": {"name": "Relates"},
                "inwardIssue": {"key": "ALPHA-1"},
                "outwardIssue": {"key": "NOPE-2"},
            },
        ),
    ),
    (
        "POST version",
        201,
        lambda c, d: c.post(
            "version", json={"projectId": d["alpha_id"], "name": "7.0", "released": False}
        ),
    ),
    ("POST version", 400, lambda c, d: c.post("version", json={"projectId": d["alpha_id"]})),
    (
        "POST component",
        201,
        lambda c, d: c.post("component", json={"project": "ALPHA", "name": "Contract"}),
    ),
    (
        "POST project",
        201,
        lambda c, d: c.post(
            "project",
            json={
                "key": "CTR",
                "name": "Contract",
                "projectTypeKey": "software",
                "leadAccountId": d["admin"],
            },
        ),
    ),
    ("POST project", 400, lambda c, d: c.post("project", json={"key": "bad key", "name": ""})),
]


JIRA_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})$")


def jira_datetime(value: object) -> bool:
    """RFC 3339, plus the "+0000" offset that Jira itself returns everywhere
    (e.g. serverTime "2024-01-16T06:27:53.640+0000"): the document's `date-time` means that."""
    return not isinstance(value, str) or bool(JIRA_DATETIME.match(value))


@pytest.fixture(scope="session")
def openapi(sandbox_server) -> OpenAPI:
    """The spec pruned to the implemented paths (building the full 2.4 MB one is slow),
    with its server set to acme's /ex/jira base on the session's sandbox."""
    spec = json.loads(SPEC.read_text())
    wanted = {op.split(" ", 1)[1] for op, _status, _call in CASES}
    spec["paths"] = {p: v for p, v in spec["paths"].items() if p[len(PREFIX) :] in wanted}
    # A known error in the document: GET remotelink's schema is one RemoteIssueLink while its
    # own example (and Jira) return an array of them. Validate each element.
    remote = spec["paths"][f"{PREFIX}issue/{{issueIdOrKey}}/remotelink"]["get"]["responses"]["200"]
    item = remote["content"]["application/json"]["schema"]
    remote["content"]["application/json"]["schema"] = {"type": "array", "items": item}
    cloud_id = sandbox_server.state.site("acme").cloud_id
    spec["servers"] = [{"url": f"{sandbox_server.url}/ex/jira/{cloud_id}"}]
    return OpenAPI.from_dict(
        spec, config=Config(extra_format_validators={"date-time": jira_datetime})
    )


def pick(site, predicate) -> str:
    from sandbox.content import issue_doc

    return next(i.key for i in site.live_issues() if predicate(issue_doc(site, i)))


@pytest.fixture
def data(connected) -> dict:
    from sandbox.content import issue_doc

    site = connected.sandbox.site("acme")
    docs = {i.key: issue_doc(site, i) for i in site.live_issues()}
    attachment_id = next(a["id"] for d in docs.values() for a in d["attachments"])
    return {
        "all_keys": list(docs),
        "rich": pick(site, lambda d: d["attachments"] and d["comments"]),
        "commented": pick(site, lambda d: d["comments"]),
        "worklogged": pick(site, lambda d: d["worklogs"]),
        "remotelinked": pick(site, lambda d: d["remotelinks"]),
        "propertied": pick(site, lambda d: d["properties"]),
        "comment_ids": [int(c["id"]) for d in docs.values() for c in d["comments"]][:20],
        "worklog_ids": [int(w["id"]) for d in docs.values() for w in d["worklogs"]][:20],
        "attachment_id": attachment_id,
        "alpha_id": site.project("ALPHA").id,
        "admin": connected.sandbox.admin.account_id,
    }


@pytest.mark.parametrize(
    ("operation", "status", "call"),
    CASES,
    ids=[f"{op} {status}" for op, status, _ in CASES],
)
def test_the_response_validates_against_the_openapi_document(
    openapi, connected, data, operation, status, call
):
    response = call(connected, data)
    assert response.status_code == status, response.text[:500]
    method, template = operation.split(" ", 1)
    assert response.request.method == method
    path = urlparse(response.request.url).path
    assert path.split(PREFIX, 1)[1].count("/") == template.count("/")
    openapi.validate_response(
        RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
    )


def test_every_implemented_jira_route_has_a_contract_case():
    from sandbox.server import JIRA_ROUTES

    covered = {op for op, _status, _call in CASES}
    spec_paths = json.loads(SPEC.read_text())["paths"]
    for route in JIRA_ROUTES:
        matching = [
            f"{route.method} {p[len(PREFIX) :]}"
            for p in spec_paths
            if p.startswith(PREFIX)
            and route.pattern.match(p[len(PREFIX) :].replace("{", "x").replace("}", "x"))
        ]
        if route.name == "search":  # removed by Atlassian: 410 is not in the document
            continue
        assert any(m in covered for m in matching), (
            f"{route.method} {route.name} has no contract case"
        )
