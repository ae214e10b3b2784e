"""Jira REST v3 under /ex/jira/{cloudid} (Bearer) and at the site URL (Basic)."""

from __future__ import annotations

import io
import zlib

import requests

from sandbox.jql import UNBOUNDED
from sandbox.search import SEARCH_REMOVED


def keys_of(page: dict) -> list[str]:
    return [issue["key"] for issue in page["issues"]]


def test_search_jql_defaults_to_ids_only_and_has_no_total(connected):
    page = connected.get("search/jql", params={"jql": "project = ALPHA"}).json()
    assert page["isLast"] is True
    assert "total" not in page
    assert all(set(issue) == {"id"} for issue in page["issues"])
    assert len(page["issues"]) == 10


def test_search_jql_rejects_unbounded_queries(connected):
    for jql in ("", "ORDER BY created DESC"):
        answer = connected.get("search/jql", params={"jql": jql})
        assert answer.status_code == 400
        assert answer.json()["errorMessages"] == [UNBOUNDED]


def test_search_jql_reports_syntax_errors_as_400(connected):
    answer = connected.get("search/jql", params={"jql": "project = "})
    assert answer.status_code == 400
    assert connected.get("search/jql", params={"jql": "nosuchfield = 1"}).status_code == 400


def test_search_jql_post_pages_with_an_opaque_token(connected):
    body = {
        "jql": "project in (ALPHA, BETA) ORDER BY key DESC",
        "maxResults": 7,
        "fields": ["summary", "status"],
    }
    first = connected.post("search/jql", json=body).json()
    assert len(first["issues"]) == 7 and first["isLast"] is False
    assert set(first["issues"][0]["fields"]) == {"summary", "status"}
    rest = []
    token = first["nextPageToken"]
    while token:
        page = connected.post("search/jql", json={**body, "nextPageToken": token}).json()
        rest += keys_of(page)
        token = page.get("nextPageToken")
    assert len(keys_of(first) + rest) == 20


def test_a_page_token_is_tied_to_its_query_and_expires_after_7_days(connected):
    page = connected.get("search/jql", params={"jql": "project = ALPHA", "maxResults": 2}).json()
    token = page["nextPageToken"]
    other = connected.get("search/jql", params={"jql": "project = BETA", "nextPageToken": token})
    assert other.status_code == 400
    connected.sandbox.clock.advance(days=8)
    # a fresh token is needed anyway: the access token expired too
    fresh = connected.sandbox.connect(sites=["acme"])
    connected.http.headers["Authorization"] = f"Bearer {fresh.access_token}"
    late = connected.get("search/jql", params={"jql": "project = ALPHA", "nextPageToken": token})
    assert late.status_code == 400


def test_search_jql_filters_by_updated_keys_and_combinations(connected):
    site = connected.sandbox.site("acme")
    issues = sorted(site.live_issues(), key=lambda i: i.updated)
    cutoff = issues[len(issues) // 2]
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(cutoff.updated, UTC).strftime("%Y-%m-%d %H:%M")
    jql = f'project = ALPHA AND updated >= "{stamp}" ORDER BY updated ASC'
    page = connected.get(
        "search/jql", params={"jql": jql, "fields": "updated", "maxResults": 100}
    ).json()
    expected = [
        i.key
        for i in issues
        if i.project_id == site.project("ALPHA").id and i.updated >= int(cutoff.updated / 60) * 60
    ]
    assert keys_of(page) == expected
    page = connected.get(
        "search/jql", params={"jql": "key in (ALPHA-1, BETA-2) ORDER BY key", "fields": "key"}
    ).json()
    assert keys_of(page) == ["ALPHA-1", "BETA-2"]


def test_the_old_search_endpoint_answers_410(connected):
    answer = connected.get("search", params={"jql": "project = ALPHA"})
    assert answer.status_code == 410
    assert answer.json()["errorMessages"] == [SEARCH_REMOVED]
    assert connected.post("search", json={"jql": "project = ALPHA"}).status_code == 410


def test_approximate_count(connected):
    answer = connected.post("search/approximate-count", json={"jql": "project = ALPHA"})
    assert answer.json() == {"count": 10}


def test_bulkfetch_returns_issues_in_ascending_id_order_with_errors_for_missing_ones(connected):
    answer = connected.post(
        "issue/bulkfetch",
        json={"issueIdsOrKeys": ["BETA-3", "ALPHA-1", "NOPE-1"], "fields": ["*all"]},
    ).json()
    ids = [int(i["id"]) for i in answer["issues"]]
    assert ids == sorted(ids) and len(ids) == 2
    assert answer["issueErrors"][0]["id"] == "NOPE-1"
    fields = answer["issues"][0]["fields"]
    assert fields["description"]["type"] == "doc"
    for custom in (
        "customfield_10020",
        "customfield_10021",
        "customfield_10022",
        "customfield_10026",
    ):
        assert custom in fields


def test_bulkfetch_refuses_more_than_100_issues(connected):
    answer = connected.post(
        "issue/bulkfetch", json={"issueIdsOrKeys": [f"ALPHA-{n}" for n in range(101)]}
    )
    assert answer.status_code == 400


def test_issue_self_links_point_at_the_url_used(connected):
    issue = connected.get("issue/ALPHA-1").json()
    assert issue["self"].startswith(connected.base)
    assert issue["fields"]["project"]["key"] == "ALPHA"


def test_an_unknown_issue_is_404_with_jiras_message(connected):
    answer = connected.get("issue/ALPHA-999")
    assert answer.status_code == 404
    assert answer.json()["errorMessages"] == [
        "Issue does not exist or you do not have permission to see it."
    ]


def test_inline_comments_are_capped_at_20_but_the_comment_endpoint_pages_all(connected):
    site = connected.sandbox.site("acme")
    from sandbox.content import issue_doc

    heavy = next(i for i in site.live_issues() if len(issue_doc(site, i)["comments"]) > 20)
    total = len(issue_doc(site, heavy)["comments"])
    found = connected.post(
        "search/jql", json={"jql": f"key = {heavy.key}", "fields": ["comment"]}
    ).json()
    inline = found["issues"][0]["fields"]["comment"]
    assert len(inline["comments"]) == 20 and inline["total"] == total
    first = connected.get(f"issue/{heavy.key}/comment", params={"maxResults": 10}).json()
    second = connected.get(
        f"issue/{heavy.key}/comment", params={"startAt": 10, "maxResults": 100}
    ).json()
    assert first["total"] == total
    assert len(first["comments"]) + len(second["comments"]) == total


def heavy_issue(site):
    from sandbox.content import histories_of

    return next(i for i in site.live_issues() if len(histories_of(site, i)) > 40)


def test_changelogs_are_long_and_paged(connected):
    issue = heavy_issue(connected.sandbox.site("acme"))
    page = connected.get(f"issue/{issue.key}/changelog", params={"maxResults": 100}).json()
    assert page["total"] > 40
    bulk = connected.post(
        "changelog/bulkfetch", json={"issueIdsOrKeys": [issue.key], "maxResults": 30}
    ).json()
    assert len(bulk["issueChangeLogs"][0]["changeHistories"]) == 30
    assert "nextPageToken" in bulk


def test_comment_list_and_worklog_list_find_items_by_id(connected):
    site = connected.sandbox.site("acme")
    from sandbox.content import issue_doc

    issue = next(
        i
        for i in site.live_issues()
        if issue_doc(site, i)["comments"] and issue_doc(site, i)["worklogs"]
    )
    comment_id = issue_doc(site, issue)["comments"][0]["id"]
    worklog_id = issue_doc(site, issue)["worklogs"][0]["id"]
    comments = connected.post("comment/list", json={"ids": [int(comment_id)]}).json()
    assert [c["id"] for c in comments["values"]] == [comment_id]
    worklogs = connected.post("worklog/list", json={"ids": [int(worklog_id)]}).json()
    assert [w["id"] for w in worklogs] == [worklog_id]


def test_worklog_updated_lists_changes_since_a_time(connected):
    everything = connected.get("worklog/updated", params={"since": 0}).json()
    assert everything["lastPage"] is True and everything["values"]
    later = connected.get("worklog/updated", params={"since": everything["until"]}).json()
    assert later["values"] == []


def find_attachment(site, mime: str | None = None):
    from sandbox.content import issue_doc

    for issue in site.live_issues():
        for attachment in issue_doc(site, issue)["attachments"]:
            if mime is None or attachment["mimeType"] == mime:
                return attachment
    raise AssertionError("no attachment")


def test_attachment_content_redirects_by_default_and_serves_bytes_with_ranges(connected):
    attachment = find_attachment(connected.sandbox.site("acme"), "image/png")
    meta = connected.get(f"attachment/{attachment['id']}").json()
    assert meta["size"] == attachment["size"]
    redirect = connected.get(f"attachment/content/{attachment['id']}", allow_redirects=False)
    assert redirect.status_code == 303
    downloaded = requests.get(redirect.headers["Location"], timeout=10).content
    assert len(downloaded) == attachment["size"]
    assert downloaded.startswith(b"\x89PNG\r\n\x1a\n")
    # the image data really is a PNG
    idat = downloaded.index(b"IDAT")
    length = int.from_bytes(downloaded[idat - 4 : idat], "big")
    zlib.decompress(downloaded[idat + 4 : idat + 4 + length])
    direct = connected.get(f"attachment/content/{attachment['id']}", params={"redirect": "false"})
    assert direct.status_code == 200 and direct.content == downloaded
    partial = connected.get(
        f"attachment/content/{attachment['id']}",
        params={"redirect": "false"},
        headers={"Range": "bytes=10-19"},
    )
    assert partial.status_code == 206
    assert partial.content == downloaded[10:20]
    assert partial.headers["Content-Range"] == f"bytes 10-19/{len(downloaded)}"


def test_attachments_are_deterministic_and_varied_in_size(sandbox):
    from sandbox.content import issue_doc

    site = sandbox.site("acme")
    sizes = {a["size"] for i in site.live_issues() for a in issue_doc(site, i)["attachments"]}
    assert len(sizes) > 5 and min(sizes) < 2000


def test_writes_persist_and_read_back(connected):
    created = connected.post(
        "issue",
        json={
            "fields": {
                "project": {"key": "ALPHA"},
                "issuetype": {"name": "Bug"},
                "summary": "Restored issue",
                "description": {"type": "doc", "version": 1, "content": []},
                "labels": ["restored"],
                "customfield_10020": {"value": "Gold"},
                "customfield_10022": 5,
            }
        },
    )
    assert created.status_code == 201
    key = created.json()["key"]
    adf = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}],
    }
    assert connected.post(f"issue/{key}/comment", json={"body": adf}).status_code == 201
    assert connected.post(f"issue/{key}/worklog", json={"timeSpentSeconds": 600}).status_code == 201
    link = {"object": {"url": "https://example.com", "title": "Example"}, "globalId": "g1"}
    assert connected.post(f"issue/{key}/remotelink", json=link).status_code == 201
    assert (
        connected.put(f"issue/{key}/properties/backup.origin", json={"id": "ALPHA-1"}).status_code
        == 201
    )
    assert (
        connected.put(f"issue/{key}/properties/backup.origin", json={"id": "ALPHA-2"}).status_code
        == 200
    )
    upload = connected.post(
        f"issue/{key}/attachments",
        headers={"X-Atlassian-Token": "no-check"},
        files={"file": ("notes.txt", io.BytesIO(b"restored bytes"), "text/plain")},
    )
    assert upload.status_code == 200
    link_answer = connected.post(
        "issueLink",
        json={
            "type": {"name": "Blocks"},
            "inwardIssue": {"key": key},
            "outwardIssue": {"key": "ALPHA-1"},
        },
    )
    assert link_answer.status_code == 201

    issue = connected.get(f"issue/{key}").json()
    fields = issue["fields"]
    assert fields["summary"] == "Restored issue"
    assert fields["customfield_10020"]["value"] == "Gold"
    assert fields["comment"]["total"] == 1
    assert fields["worklog"]["total"] == 1
    assert fields["issuelinks"][0]["outwardIssue"]["key"] == "ALPHA-1"
    assert connected.get(f"issue/{key}/properties/backup.origin").json()["value"] == {
        "id": "ALPHA-2"
    }
    assert len(connected.get(f"issue/{key}/remotelink").json()) == 1
    att_id = fields["attachment"][0]["id"]
    content = connected.get(f"attachment/content/{att_id}", params={"redirect": "false"}).content
    assert content == b"restored bytes"
    found = connected.get("search/jql", params={"jql": f"key = {key}"}).json()
    assert found["issues"] == [{"id": issue["id"]}]


def test_attachment_upload_needs_the_xsrf_header(connected):
    answer = connected.post(
        "issue/ALPHA-1/attachments", files={"file": ("a.txt", io.BytesIO(b"x"), "text/plain")}
    )
    assert answer.status_code == 403


def test_issue_create_validates_like_jira(connected):
    answer = connected.post(
        "issue", json={"fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Bug"}}}
    )
    assert answer.status_code == 400
    assert "summary" in answer.json()["errors"]
    answer = connected.post(
        "issue",
        json={
            "fields": {
                "project": {"key": "ALPHA"},
                "issuetype": {"name": "Bug"},
                "summary": "x",
                "description": "plain",
            }
        },
    )
    assert answer.status_code == 400 and "description" in answer.json()["errors"]


def test_bulk_create_reports_partial_success_with_201_and_total_failure_with_400(connected):
    good = {"fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Task"}, "summary": "ok"}}
    bad = {"fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Task"}}}
    partial = connected.post("issue/bulk", json={"issueUpdates": [good, bad]})
    assert partial.status_code == 201
    body = partial.json()
    assert len(body["issues"]) == 1
    assert body["errors"][0]["failedElementNumber"] == 1
    assert body["errors"][0]["status"] == 400
    failed = connected.post("issue/bulk", json={"issueUpdates": [bad]})
    assert failed.status_code == 400
    too_many = connected.post("issue/bulk", json={"issueUpdates": [good] * 51})
    assert too_many.status_code == 400


def test_project_version_and_component_creation(connected):
    project = connected.post(
        "project", json={"key": "NEW", "name": "New one", "projectTypeKey": "software"}
    )
    assert project.status_code == 201
    version = connected.post("version", json={"projectId": project.json()["id"], "name": "9.9"})
    assert version.status_code == 201
    component = connected.post("component", json={"project": "NEW", "name": "Core"})
    assert component.status_code == 201
    assert [v["name"] for v in connected.get("project/NEW/versions").json()] == ["9.9"]
    assert [c["name"] for c in connected.get("project/NEW/components").json()] == ["Core"]
    keys = [p["key"] for p in connected.get("project/search").json()["values"]]
    assert "NEW" in keys


def test_mypermissions_reports_admin_rights_and_their_loss(connected):
    params = {"permissions": "ADMINISTER"}
    assert connected.get("mypermissions", params=params).json()["permissions"]["ADMINISTER"][
        "havePermission"
    ]
    connected.sandbox.remove_admin(connected.sandbox.admin, "acme")
    answer = connected.get("mypermissions", params=params).json()
    assert answer["permissions"]["ADMINISTER"]["havePermission"] is False


def test_a_token_without_the_scope_is_refused(sandbox):
    tokens = sandbox.connect(scope="read:jira-user offline_access")
    answer = requests.get(
        f"{sandbox.jira_url('acme')}/rest/api/3/issue/ALPHA-1",
        headers={"Authorization": f"Bearer {tokens.access_token}"},
        timeout=10,
    )
    assert answer.status_code == 401


def test_basic_auth_works_at_the_site_url_and_bearer_does_not(sandbox, basic):
    site = sandbox.site("acme")
    me = basic.get(f"{site.url}/rest/api/3/myself", timeout=10)
    assert me.status_code == 200 and me.json()["emailAddress"] == "admin@acme.test"
    assert me.json()["self"].startswith(site.url)
    tokens = sandbox.connect()
    bearer = requests.get(
        f"{site.url}/rest/api/3/myself",
        headers={"Authorization": f"Bearer {tokens.access_token}"},
        timeout=10,
    )
    assert bearer.status_code == 401
    wrong = requests.get(
        f"{site.url}/rest/api/3/myself", auth=(sandbox.admin.email, "bad"), timeout=10
    )
    assert wrong.status_code == 401


def test_basic_auth_is_refused_under_ex_jira(sandbox, basic):
    answer = basic.get(f"{sandbox.jira_url('acme')}/rest/api/3/myself", timeout=10)
    assert answer.status_code == 401


def test_api_tokens_belong_to_a_user(sandbox):
    user = sandbox.add_user("legacy@acme.test", admin_of=["acme"])
    token = sandbox.issue_api_token(user, "acme")
    answer = requests.get(
        f"{sandbox.site('acme').url}/rest/api/3/project/search",
        auth=(user.email, token),
        timeout=10,
    )
    assert answer.status_code == 200
    other = requests.get(
        f"{sandbox.site('acme').url}/rest/api/3/myself", auth=("admin@acme.test", token), timeout=10
    )
    assert other.status_code == 401


def test_configuration_endpoints_answer(connected):
    assert len(connected.get("field").json()) > 20
    contexts = connected.get("field/customfield_10020/context").json()["values"]
    options = connected.get(f"field/customfield_10020/context/{contexts[0]['id']}/option").json()
    assert [o["value"] for o in options["values"]] == ["Gold", "Silver", "Bronze"]
    assert connected.get("statuses/search").json()["total"] == 4
    assert len(connected.get("issuetype").json()) == 5
    assert connected.get("priority/search").json()["total"] == 5
    assert len(connected.get("issueLinkType").json()["issueLinkTypes"]) == 4
    roles = connected.get("project/ALPHA/role").json()
    role_id = next(iter(roles.values())).rsplit("/", 1)[1]
    assert connected.get(f"project/ALPHA/role/{role_id}").json()["actors"]
    assert connected.get("serverInfo").json()["deploymentType"] == "Cloud"
    assert len(connected.get("users/search", params={"maxResults": 3}).json()) == 3


def test_server_info_answers_anonymously_at_the_site_url(sandbox):
    site = sandbox.site("acme")
    answer = requests.get(f"{site.url}/rest/api/3/serverInfo", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["baseUrl"] == site.url
    assert requests.get(f"{site.url}/rest/api/3/myself", timeout=10).status_code == 401


def test_no_response_leaks_the_base_url_placeholder(connected, basic):
    from sandbox.model import BASE

    # Pin some issues (a write) so generated and pinned content mix, links included.
    for key in ("ALPHA-1", "ALPHA-2", "BETA-1"):
        connected.put(f"issue/{key}/properties/mark", json=True)
    body = {
        "jql": "project in (ALPHA, BETA)",
        "fields": ["*all"],
        "expand": "changelog",
        "maxResults": 100,
    }
    bearer = connected.post("search/jql", json=body)
    site = connected.sandbox.site("acme")
    legacy = basic.post(f"{site.url}/rest/api/3/search/jql", json=body, timeout=10)
    assert BASE not in bearer.text and BASE not in legacy.text
    assert connected.base.rsplit("/rest/api/3", 1)[0] in bearer.text
    assert f"{site.url}/rest/api/3/issue/" in legacy.text
    assert "/ex/jira/" not in legacy.text


def test_media_downloads_need_the_signed_token(connected):
    attachment = find_attachment(connected.sandbox.site("acme"))
    location = connected.get(
        f"attachment/content/{attachment['id']}", allow_redirects=False
    ).headers["Location"]
    assert requests.get(location, timeout=10).status_code == 200
    assert requests.get(location.split("?")[0], timeout=10).status_code == 401
    assert requests.get(location.replace("token=", "token=x"), timeout=10).status_code == 401
