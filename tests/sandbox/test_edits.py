"""Edits and deletions: what a bad bulk edit does and what a roll-back needs to undo it."""

from __future__ import annotations

from datetime import UTC, datetime

import requests

from sandbox.content import issue_doc, plain

ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "rolled back"}]}],
}


def test_an_edit_sets_fields_and_applies_update_operations(connected):
    before = connected.get("issue/ALPHA-1").json()["fields"]
    answer = connected.put(
        "issue/ALPHA-1",
        json={
            "fields": {
                "summary": "Edited summary",
                "description": ADF,
                "priority": {"name": "Lowest"},
                "customfield_10020": {"value": "Bronze"},
                "customfield_10022": 21,
            },
            "update": {
                "labels": [{"add": "hotfix"}, {"remove": (before["labels"] or ["none"])[0]}],
                "customfield_10021": [{"add": {"value": "Desktop"}}],
                "comment": [{"add": {"body": ADF}}],
            },
        },
    )
    assert answer.status_code == 204 and answer.content == b""
    fields = connected.get("issue/ALPHA-1").json()["fields"]
    assert fields["summary"] == "Edited summary" and fields["description"] == ADF
    assert fields["priority"]["name"] == "Lowest"
    assert fields["customfield_10020"]["value"] == "Bronze"
    assert fields["customfield_10022"] == 21
    assert fields["labels"] == [*before["labels"][1:], "hotfix"]
    assert "Desktop" in [o["value"] for o in fields["customfield_10021"]]
    assert fields["comment"]["comments"][-1]["body"] == ADF
    assert fields["updated"] > before["updated"]


def test_an_edit_is_recorded_in_the_changelog_with_its_author(connected):
    before = connected.get("issue/ALPHA-2").json()["fields"]["summary"]
    connected.put("issue/ALPHA-2", json={"fields": {"summary": "New", "labels": ["a", "b"]}})
    history = connected.get("issue/ALPHA-2/changelog").json()["values"][-1]
    assert history["author"]["accountId"] == connected.sandbox.admin.account_id
    items = {i["field"]: i for i in history["items"]}
    assert items["summary"]["fromString"] == before and items["summary"]["toString"] == "New"
    assert items["labels"]["toString"] == "a b"


def test_a_refused_edit_changes_nothing(connected):
    before = connected.get("issue/ALPHA-1").json()["fields"]
    answer = connected.put(
        "issue/ALPHA-1",
        json={"fields": {"summary": "Changed", "customfield_10020": {"value": "Diamond"}}},
    )
    assert answer.status_code == 400
    assert "customfield_10020" in answer.json()["errors"]
    after = connected.get("issue/ALPHA-1").json()["fields"]
    assert after["summary"] == before["summary"] and after["updated"] == before["updated"]
    for field in ("status", "resolution", "nosuchfield"):
        refused = connected.put("issue/ALPHA-1", json={"fields": {field: None}})
        assert refused.status_code == 400 and field in refused.json()["errors"]


def test_edits_count_toward_the_per_issue_write_limit(connected):
    connected.sandbox.clock.freeze()
    statuses = [
        connected.put("issue/ALPHA-1", json={"fields": {"summary": f"n{n}"}}).status_code
        for n in range(21)
    ]
    assert statuses == [204] * 20 + [429]


def test_an_edit_can_return_the_issue(connected):
    answer = connected.put(
        "issue/ALPHA-1", params={"returnIssue": "true"}, json={"fields": {"summary": "Back"}}
    )
    assert answer.status_code == 200 and answer.json()["fields"]["summary"] == "Back"


def test_comments_are_read_edited_and_deleted_one_by_one(connected):
    site = connected.sandbox.site("acme")
    issue = next(i for i in site.live_issues() if len(issue_doc(site, i)["comments"]) >= 2)
    first, second = issue_doc(site, issue)["comments"][:2]
    one = connected.get(f"issue/{issue.key}/comment/{first['id']}").json()
    assert one["id"] == first["id"]
    connected.sandbox.clock.advance(minutes=5)
    edited = connected.put(f"issue/{issue.key}/comment/{first['id']}", json={"body": ADF}).json()
    assert edited["body"] == ADF and edited["updated"] > edited["created"]
    assert edited["updateAuthor"]["accountId"] == connected.sandbox.admin.account_id
    assert connected.delete(f"issue/{issue.key}/comment/{second['id']}").status_code == 204
    ids = [c["id"] for c in connected.get(f"issue/{issue.key}/comment").json()["comments"]]
    assert first["id"] in ids and second["id"] not in ids
    assert connected.get(f"issue/{issue.key}/comment/{second['id']}").status_code == 404


def test_worklogs_attachments_links_remote_links_and_properties_are_deleted(connected):
    site = connected.sandbox.site("acme")
    docs = {i.key: issue_doc(site, i) for i in site.live_issues()}
    worked = next(k for k, d in docs.items() if d["worklogs"])
    worklog = docs[worked]["worklogs"][0]["id"]
    assert connected.get(f"issue/{worked}/worklog/{worklog}").json()["id"] == worklog
    assert connected.delete(f"issue/{worked}/worklog/{worklog}").status_code == 204
    assert worklog not in [
        w["id"] for w in connected.get(f"issue/{worked}/worklog").json()["worklogs"]
    ]
    attached = next(k for k, d in docs.items() if d["attachments"])
    attachment = docs[attached]["attachments"][0]["id"]
    assert connected.delete(f"attachment/{attachment}").status_code == 204
    assert connected.get(f"attachment/{attachment}").status_code == 404
    linked = next(i for i in site.live_issues() if site.links.get(i.id))
    link_id = site.links[linked.id][0][0]
    link = connected.get(f"issueLink/{link_id}").json()
    assert {link["inwardIssue"]["key"], link["outwardIssue"]["key"]} >= {linked.key}
    assert connected.delete(f"issueLink/{link_id}").status_code == 204
    shown = connected.get(f"issue/{linked.key}").json()["fields"]["issuelinks"]
    assert str(link_id) not in [entry["id"] for entry in shown]
    remote = next(k for k, d in docs.items() if d["remotelinks"])
    remote_id = docs[remote]["remotelinks"][0]["id"]
    assert connected.get(f"issue/{remote}/remotelink/{remote_id}").status_code == 200
    assert connected.delete(f"issue/{remote}/remotelink/{remote_id}").status_code == 204
    assert connected.get(f"issue/{remote}/remotelink/{remote_id}").status_code == 404
    propertied = next(k for k, d in docs.items() if d["properties"])
    assert connected.delete(f"issue/{propertied}/properties/sandbox.metadata").status_code == 204
    assert connected.get(f"issue/{propertied}/properties/sandbox.metadata").status_code == 404


def test_a_bulk_edit_at_a_given_time_is_what_a_roll_back_finds(connected):
    sandbox = connected.sandbox
    site = sandbox.site("acme")
    t1 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    comments_before = sum(len(issue_doc(site, i)["comments"]) for i in site.live_issues())
    author = sorted(a for a in site.members if a not in site.admins)[0]
    result = sandbox.bulk_edit(
        "acme",
        count=8,
        fields={"summary": "Overwritten by automation", "priority": {"name": "Highest"}},
        delete_comments=5,
        author=author,
        at=t1,
        seed=1,
    )
    assert len(result["edited"]) == 8 and len(result["deleted_comments"]) == 5
    assert len({c["issue"] for c in result["deleted_comments"]}) == 5  # one per issue first
    comments_after = sum(len(issue_doc(site, i)["comments"]) for i in site.live_issues())
    assert comments_after == comments_before - 5
    for key in result["edited"]:
        history = connected.get(f"issue/{key}/changelog").json()["values"][-1]
        assert history["author"]["accountId"] == author
        assert history["created"] == "2026-03-01T12:00:00.000+0000"
        assert {i["field"] for i in history["items"]} <= {"summary", "priority"}
    window = 'updated >= "2026-03-01 11:59" AND updated <= "2026-03-01 12:01"'
    page = connected.get(
        "search/jql", params={"jql": f"project in (ALPHA, BETA) AND {window}", "fields": "key"}
    ).json()
    assert sorted(i["key"] for i in page["issues"]) == sorted(result["edited"])


def test_the_bulk_edit_control_endpoint(sandbox):
    answer = requests.post(
        f"{sandbox.url}/_sandbox/bulk-edit",
        json={
            "site": "acme",
            "issues": ["ALPHA-1", "BETA-2"],
            "fields": {"labels": ["bulk"]},
            "delete_comments": 1,
            "author": "dev@acme.test",
            "at": "2026-04-01T08:00:00Z",
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["edited"] == ["ALPHA-1", "BETA-2"] and body["author"] == sandbox.member.account_id
    site = sandbox.site("acme")
    assert plain(site, issue_doc(site, site.issue("ALPHA-1"))["fields"]["labels"]) == ["bulk"]
    refused = requests.post(
        f"{sandbox.url}/_sandbox/bulk-edit",
        json={"site": "acme", "issues": ["ALPHA-1"], "fields": {"priority": {"name": "Nope"}}},
        timeout=10,
    )
    assert refused.status_code == 400
