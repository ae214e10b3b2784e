"""Jira REST v3 reads through a vendor grant, over HTTP against the sandbox."""

from __future__ import annotations

from collections import defaultdict

import pytest

from atlassian.endpoints import family_for_path
from atlassian.exceptions import ApiBadRequest, ApiNotFound, ApiUnauthorized
from atlassian.models import CallStat

pytestmark = pytest.mark.django_db


def _project_key(jira) -> str:
    return next(iter(jira.projects()))["key"]


def test_it_proves_site_admin_rights(jira, sandbox, atlassian_settings, client_kwargs):
    from atlassian.client import JiraClient

    assert jira.has_permission("ADMINISTER")
    member = sandbox.connect(user=sandbox.state.member, sites=["acme"])
    as_member = JiraClient.for_grant(
        sandbox.site("acme").cloud_id, lambda: member.access_token, **client_kwargs
    )
    assert not as_member.has_permission("ADMINISTER")


def test_it_reads_identity_and_configuration(jira):
    assert jira.myself()["emailAddress"] == "admin@acme.test"
    assert jira.server_info()["deploymentType"] == "Cloud"
    projects = list(jira.projects())
    assert len(projects) == 2
    key = projects[0]["key"]
    assert isinstance(jira.project_components(key), list)
    assert isinstance(list(jira.project_versions(key)), list)
    roles = jira.project_roles(key)
    assert roles
    role_id = next(iter(roles.values())).rstrip("/").rsplit("/", 1)[1]
    assert jira.project_role(key, role_id)["name"]
    fields = jira.fields()
    assert any(f["id"] == "summary" for f in fields)
    custom = next(f["id"] for f in fields if f["id"] == "customfield_10020")
    contexts = list(jira.field_contexts(custom))
    assert contexts
    options = list(jira.field_context_options(custom, contexts[0]["id"]))
    assert [o["value"] for o in options] == ["Gold", "Silver", "Bronze"]
    assert len(list(jira.statuses())) >= 4
    assert len(jira.issue_types()) >= 5
    assert len(list(jira.priorities())) == 5
    assert len(jira.issue_link_types()) == 4
    assert any(u["emailAddress"] == "admin@acme.test" for u in jira.users() if "emailAddress" in u)


def test_it_pages_through_search_results_with_the_cursor(jira, sandbox):
    key = _project_key(jira)
    issues = list(jira.search_jql(f"project = {key}", max_results=7))
    count = jira.approximate_count(f"project = {key}")
    assert len(issues) == count == len({i["id"] for i in issues})
    assert set(issues[0]) >= {"id"}
    searches = sandbox.requests_where(path_prefix=f"/ex/jira/{sandbox.site('acme').cloud_id}")
    assert len([r for r in searches if r.path.endswith("/search/jql")]) == -(-count // 7)


def test_a_search_page_carries_its_checkpoint(jira):
    key = _project_key(jira)
    first = jira.search_jql_page(f"project = {key}", max_results=3, fields=["summary"])
    assert not first.is_last and first.next_page_token
    assert all("summary" in i["fields"] for i in first.issues)
    second = jira.search_jql_page(f"project = {key}", next_page_token=first.next_page_token)
    assert {i["id"] for i in first.issues}.isdisjoint({i["id"] for i in second.issues})


def test_it_fetches_issues_and_their_parts(jira):
    key = _project_key(jira)
    ids = [i["id"] for i in jira.search_jql(f"project = {key}")]
    fetched = jira.bulkfetch_issues(ids[:10], fields=["summary", "comment"])
    assert len(fetched["issues"]) == 10
    issue = jira.get_issue(fetched["issues"][0]["key"])
    assert issue["fields"]["summary"]
    changelogs = list(jira.changelog_bulkfetch(ids, max_results=5))
    assert changelogs and all("changeHistories" in c for c in changelogs)
    with_comments = next(i for i in fetched["issues"] if i["fields"]["comment"]["total"])
    comments = list(jira.comments(with_comments["key"]))
    assert len(comments) == with_comments["fields"]["comment"]["total"]
    listed = list(jira.comment_list([c["id"] for c in comments]))
    assert [c["id"] for c in listed] == [c["id"] for c in comments]
    assert isinstance(list(jira.changelog(issue["key"])), list)
    worklog_ids = [w["worklogId"] for w in jira.worklog_updated(0)]
    assert worklog_ids
    assert len(jira.worklog_list(worklog_ids[:20])) == min(20, len(worklog_ids))
    assert isinstance(jira.worklogs(issue["key"]) and list(jira.worklogs(issue["key"])), list)
    assert isinstance(jira.remote_links(issue["key"]), list)
    assert isinstance(jira.issue_property_keys(issue["key"]), list)


def test_it_streams_attachments_and_resumes_with_a_range(jira):
    key = _project_key(jira)
    issues = list(jira.search_jql(f"project = {key}", fields=["attachment"]))
    attachment = next(a for i in issues for a in i["fields"].get("attachment") or [])
    meta = jira.attachment_meta(attachment["id"])
    whole = b"".join(jira.attachment_content(attachment["id"], chunk_size=100))
    assert len(whole) == meta["size"]
    tail = b"".join(jira.attachment_content(attachment["id"], start=10))
    head = b"".join(jira.attachment_content(attachment["id"], end=9))
    assert head + tail == whole


def test_unbounded_jql_is_a_bad_request_with_atlassians_messages(jira, sandbox):
    with pytest.raises(ApiBadRequest) as caught:
        jira.search_jql_page("order by created")
    assert caught.value.status == 400
    assert any("Unbounded" in m for m in caught.value.error_messages)
    assert len(sandbox.requests_where(status=400)) == 1


def test_a_missing_issue_is_not_found(jira):
    with pytest.raises(ApiNotFound):
        jira.get_issue("NOPE-999")


def test_a_deleted_site_is_not_found(jira, sandbox):
    sandbox.state.delete_site("acme")
    with pytest.raises(ApiNotFound):
        jira.myself()


def test_a_revoked_grant_is_unauthorized_and_not_retried(jira, sandbox):
    sandbox.state.revoke_grant(sandbox.state.admin)
    with pytest.raises(ApiUnauthorized):
        jira.myself()
    assert len(sandbox.requests_where(status=401)) == 1


def test_the_token_provider_is_asked_before_every_request(
    atlassian_settings, sandbox, grant, client_kwargs
):
    from atlassian.client import JiraClient

    calls = []

    def provider():
        calls.append(1)
        return grant.access_token

    client = JiraClient.for_grant(sandbox.site("acme").cloud_id, provider, **client_kwargs)
    client.myself()
    client.server_info()
    assert len(calls) == 2


def test_its_points_match_what_atlassian_charged(jira, sandbox, call_ledger):
    test_it_reads_identity_and_configuration(jira)
    test_it_fetches_issues_and_their_parts(jira)
    charged: dict[str, int] = defaultdict(int)
    for record in sandbox.requests_where(credential="bearer"):
        charged[family_for_path(record.path)] += record.points
    counted = defaultdict(int)
    for key, (_requests, points) in call_ledger.pending().items():
        counted[key.endpoint_family] += points
    assert dict(counted) == dict(charged)


def test_every_call_lands_in_the_ledger(jira, sandbox, call_ledger):
    jira.myself()
    list(jira.search_jql(f"project = {_project_key(jira)}", max_results=50))
    with pytest.raises(ApiNotFound):
        jira.get_issue("NOPE-1")
    call_ledger.flush()
    rows = {
        (r.endpoint_family, r.status_class): (r.requests, r.credential_kind, r.site_cloud_id)
        for r in CallStat.objects.all()
    }
    cloud = sandbox.site("acme").cloud_id
    assert rows[("myself", "2xx")] == (1, "vendor_grant", cloud)
    assert rows[("issue/{key}", "4xx")] == (1, "vendor_grant", cloud)
    assert rows[("search/jql", "2xx")][0] >= 1
    assert sum(r.requests for r in CallStat.objects.all()) == len(
        sandbox.requests_where(credential="bearer")
    )
