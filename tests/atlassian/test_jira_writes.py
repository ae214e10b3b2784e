"""Restore writes through a vendor grant, over HTTP against the sandbox."""

from __future__ import annotations

import io

import pytest

from atlassian.exceptions import ApiBadRequest

pytestmark = pytest.mark.django_db


def _adf(text: str) -> dict:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


@pytest.fixture
def project_key(jira) -> str:
    return next(iter(jira.projects()))["key"]


def _issue_fields(project_key: str, summary: str) -> dict:
    return {
        "fields": {
            "project": {"key": project_key},
            "issuetype": {"name": "Task"},
            "summary": summary,
            "description": _adf("restored"),
        }
    }


def test_it_creates_an_issue_and_its_parts(jira, project_key, sandbox, call_ledger):
    created = jira.create_issue(_issue_fields(project_key, "Restored issue"))
    key = created["key"]
    assert jira.get_issue(key)["fields"]["summary"] == "Restored issue"
    comment = jira.add_comment(key, {"body": _adf("a comment")})
    assert comment["id"]
    worklog = jira.add_worklog(
        key, {"timeSpentSeconds": 600, "started": "2026-01-05T10:00:00.000+0000"}
    )
    assert worklog["id"]
    jira.set_issue_property(key, "backup.source", {"id": "10001"})
    assert jira.issue_property(key, "backup.source") == {"id": "10001"}
    assert "backup.source" in jira.issue_property_keys(key)
    link = jira.add_remote_link(key, {"object": {"url": "https://x.test", "title": "X"}})
    assert link["id"]
    other = jira.create_issue(_issue_fields(project_key, "Other"))["key"]
    jira.create_issue_link(
        {"type": {"name": "Relates"}, "inwardIssue": {"key": key}, "outwardIssue": {"key": other}}
    )
    [attachment] = jira.add_attachment(
        key, "notes.txt", io.BytesIO(b"hello"), content_type="text/plain"
    )
    assert b"".join(jira.attachment_content(attachment["id"])) == b"hello"
    # Writes cost one point each.
    writes = [k for k in call_ledger.pending() if k.endpoint_family.startswith("issue/{key}/")]
    assert writes
    assert all(
        points == requests
        for key_, (requests, points) in call_ledger.pending().items()
        if key_.endpoint_family in ("issue", "issue/{key}/comment", "issueLink")
    )


def test_an_upload_carries_the_xsrf_header(jira, project_key, sandbox):
    key = jira.create_issue(_issue_fields(project_key, "With file"))["key"]
    jira.add_attachment(key, "a.bin", b"\x00\x01")
    [upload] = sandbox.requests_where(method="POST", path_prefix="/ex/jira", status=200)[-1:]
    assert upload.path.endswith("/attachments")


def test_bulk_create_reports_created_issues_and_per_element_errors(jira, project_key):
    good = _issue_fields(project_key, "Good")
    bad = {"fields": {"project": {"key": project_key}, "issuetype": {"name": "Task"}}}
    result = jira.bulk_create_issues([good, bad, good])
    assert len(result.issues) == 2
    assert result.failed_element_numbers == [1]
    assert result.errors[0]["elementErrors"]["errors"]


def test_bulk_create_with_every_element_failing_returns_the_errors(jira, project_key):
    bad = {"fields": {"project": {"key": project_key}, "issuetype": {"name": "Task"}}}
    result = jira.bulk_create_issues([bad, bad])
    assert result.issues == []
    assert result.failed_element_numbers == [0, 1]


def test_bulk_create_refuses_more_than_fifty_before_sending(jira, project_key, sandbox):
    before = len(sandbox.request_log)
    with pytest.raises(ValueError):
        jira.bulk_create_issues([_issue_fields(project_key, "x")] * 51)
    assert len(sandbox.request_log) == before


def test_it_creates_versions_components_and_projects(jira, project_key, sandbox):
    project = jira.server_info() and next(iter(jira.projects()))
    version = jira.create_version({"name": "v9", "projectId": int(project["id"])})
    assert version["name"] == "v9"
    component = jira.create_component({"name": "Restored parts", "project": project_key})
    assert component["name"] == "Restored parts"
    created = jira.create_project(
        {
            "key": "RST",
            "name": "Restored",
            "projectTypeKey": "software",
            "leadAccountId": sandbox.state.admin.account_id,
        }
    )
    assert created["key"] == "RST"


def test_a_rejected_write_names_the_field(jira, project_key):
    with pytest.raises(ApiBadRequest) as caught:
        jira.add_comment(f"{project_key}-1", {"body": "plain text is not ADF"})
    assert "comment" in caught.value.errors
