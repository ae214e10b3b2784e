"""Workflows: statuses per project and issue type, transitions, and what they change."""

from __future__ import annotations

import pytest
import requests

from sandbox import workflows
from sandbox.content import headline, histories_of
from sandbox.state import SandboxState


def issue_in(site, status: str, types=("Task", "Story", "Bug"), project: str | None = None):
    for issue in site.live_issues():
        head = headline(site, issue)
        if head["status"]["name"] == status and head["issuetype"]["name"] in types:
            if project is None or site.projects[issue.project_id].key == project:
                return issue
    raise AssertionError(f"no {status} issue")


def names(answer) -> dict[str, str]:
    return {t["name"]: t["id"] for t in answer.json()["transitions"]}


def test_generated_issues_are_in_statuses_of_their_own_workflow():
    state = SandboxState(seed="wf", projects=3, issues=300, features="all")
    site = state.site("acme")
    seen = set()
    for issue in site.live_issues():
        head = headline(site, issue)
        project = site.projects[issue.project_id]
        workflow = workflows.workflow_of(site, project, head["issuetype"]["id"])
        assert head["status"]["id"] in workflow.statuses, issue.key
        seen.add((project.key, head["status"]["name"]))
    # BETA's kanban workflow has no Blocked; the others have issues in it.
    assert ("BETA", "Blocked") not in seen and ("ALPHA", "Blocked") in seen
    assert {s for _p, s in seen} == {"To Do", "In Progress", "In Review", "Done", "Blocked"}


def test_only_transitions_from_the_current_status_are_offered(full):
    site = full.sandbox.site("acme")
    todo = issue_in(site, "To Do", project="ALPHA")
    offered = names(full.get(f"issue/{todo.key}/transitions"))
    assert set(offered) == {"Start progress", "Block", "Won't do"}
    review = issue_in(site, "In Review")
    assert set(names(full.get(f"issue/{review.key}/transitions"))) == {
        "Request changes",
        "Approve",
    }


def test_a_transition_into_done_shows_a_required_resolution_with_its_fields(full):
    review = issue_in(full.sandbox.site("acme"), "In Review")
    plain = full.get(f"issue/{review.key}/transitions").json()["transitions"]
    assert all("fields" not in t for t in plain)
    expanded = full.get(
        f"issue/{review.key}/transitions", params={"expand": "transitions.fields"}
    ).json()["transitions"]
    approve = next(t for t in expanded if t["name"] == "Approve")
    assert approve["hasScreen"] is True and approve["to"]["statusCategory"]["key"] == "done"
    resolution = approve["fields"]["resolution"]
    assert resolution["required"] is True
    assert [v["name"] for v in resolution["allowedValues"]] == ["Done", "Won't Do", "Duplicate"]
    other = next(t for t in expanded if t["name"] == "Request changes")
    assert other["fields"] == {}


def test_a_transition_sets_status_resolution_and_dates_and_is_recorded(full):
    site = full.sandbox.site("acme")
    review = issue_in(site, "In Review")
    before = len(histories_of(site, review))
    full.sandbox.clock.advance(minutes=30)
    offered = names(full.get(f"issue/{review.key}/transitions"))
    missing = full.post(
        f"issue/{review.key}/transitions", json={"transition": {"id": offered["Approve"]}}
    )
    assert missing.status_code == 400
    assert missing.json()["errors"] == {"resolution": "Resolution is required."}
    done = full.post(
        f"issue/{review.key}/transitions",
        json={
            "transition": {"id": offered["Approve"]},
            "fields": {"resolution": {"name": "Won't Do"}},
        },
    )
    assert done.status_code == 204 and done.content == b""
    fields = full.get(f"issue/{review.key}").json()["fields"]
    assert fields["status"]["name"] == "Done"
    assert fields["status"]["statusCategory"]["key"] == "done"
    assert fields["resolution"]["name"] == "Won't Do"
    assert fields["resolutiondate"] == fields["updated"] == fields["statuscategorychangedate"]
    history = histories_of(site, review)
    assert len(history) == before + 1
    items = {i["field"]: i for i in history[-1]["items"]}
    assert items["status"]["fromString"] == "In Review" and items["status"]["toString"] == "Done"
    assert items["resolution"]["toString"] == "Won't Do"
    assert history[-1]["author"]["accountId"] == full.sandbox.admin.account_id
    # Reopening clears the resolution.
    reopen = names(full.get(f"issue/{review.key}/transitions"))["Reopen"]
    assert (
        full.post(
            f"issue/{review.key}/transitions", json={"transition": {"id": reopen}}
        ).status_code
        == 204
    )
    fields = full.get(f"issue/{review.key}").json()["fields"]
    assert fields["status"]["name"] == "To Do"
    assert fields["resolution"] is None and fields["resolutiondate"] is None


def test_an_unavailable_transition_or_a_field_off_the_screen_is_refused(full):
    todo = issue_in(full.sandbox.site("acme"), "To Do", project="ALPHA")
    approve_elsewhere = full.post(
        f"issue/{todo.key}/transitions", json={"transition": {"id": "41"}}
    )
    assert approve_elsewhere.status_code == 400
    assert approve_elsewhere.json()["errorMessages"] == [
        "Transition id '41' is not valid for this issue."
    ]
    start = names(full.get(f"issue/{todo.key}/transitions"))["Start progress"]
    off_screen = full.post(
        f"issue/{todo.key}/transitions",
        json={"transition": {"id": start}, "fields": {"resolution": {"name": "Done"}}},
    )
    assert off_screen.status_code == 400 and "resolution" in off_screen.json()["errors"]
    assert full.get(f"issue/{todo.key}").json()["fields"]["status"]["name"] == "To Do"


def test_a_transition_counts_toward_the_per_issue_write_limit(full):
    full.sandbox.clock.freeze()
    todo = issue_in(full.sandbox.site("acme"), "To Do", project="ALPHA")
    for n in range(19):
        assert full.put(f"issue/{todo.key}/properties/p{n}", json=n).status_code == 201
    start = names(full.get(f"issue/{todo.key}/transitions"))["Start progress"]
    ok = full.post(f"issue/{todo.key}/transitions", json={"transition": {"id": start}})
    assert ok.status_code == 204
    stop = names(full.get(f"issue/{todo.key}/transitions"))["Stop progress"]
    refused = full.post(f"issue/{todo.key}/transitions", json={"transition": {"id": stop}})
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Reason"] == "jira-per-issue-on-write"


def test_a_transition_with_a_comment_adds_it(full):
    todo = issue_in(full.sandbox.site("acme"), "To Do", project="ALPHA")
    start = names(full.get(f"issue/{todo.key}/transitions"))["Start progress"]
    body = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "on it"}]}],
    }
    answer = full.post(
        f"issue/{todo.key}/transitions",
        json={"transition": {"id": start}, "update": {"comment": [{"add": {"body": body}}]}},
    )
    assert answer.status_code == 204
    comments = full.get(f"issue/{todo.key}/comment").json()["comments"]
    assert comments[-1]["body"] == body


def test_the_kanban_project_cannot_reach_blocked(full):
    site = full.sandbox.site("acme")
    beta = site.project("BETA")
    kanban = workflows.workflow_of(site, beta, "10001")
    software = workflows.workflow_of(site, site.project("ALPHA"), "10001")
    assert kanban.name == "Kanban workflow" and software.name == "Software workflow"
    assert workflows.shortest_path(kanban, "10000", "10003") is None
    path = workflows.shortest_path(software, "10001", "10003")
    assert [t.name for t in path] == ["Request changes", "Block"]
    statuses = full.get("project/BETA/statuses").json()
    task = next(t for t in statuses if t["name"] == "Task")
    assert "Blocked" not in {s["name"] for s in task["statuses"]}


def test_workflows_schemes_and_statuses_describe_the_same_graph(full):
    searched = full.get("workflows/search", params={"expand": "values.transitions"}).json()
    by_name = {w["name"]: w for w in searched["values"]}
    assert set(by_name) == {
        "Sandbox classic workflow",
        "Software workflow",
        "Kanban workflow",
        "Simple workflow",
    }
    software = by_name["Software workflow"]
    assert {s["statusReference"] for s in software["statuses"]} == {
        "10000",
        "3",
        "10001",
        "10002",
        "10003",
    }
    approve = next(t for t in software["transitions"] if t["name"] == "Approve")
    assert approve["links"] == [{"fromStatusReference": "10001", "fromPort": 0, "toPort": 1}]
    assert approve["transitionScreen"]["parameters"]["screenId"] == "3"
    statuses = {s["id"] for s in full.get("statuses/search").json()["values"]}
    used = {s["statusReference"] for w in searched["values"] for s in w["statuses"]}
    assert statuses == used == {s["id"] for s in searched["statuses"]}
    site = full.sandbox.site("acme")
    ids = [p.id for p in site.projects.values()]
    mapping = full.get("workflowscheme/project", params={"projectId": ids}).json()["values"]
    by_scheme = {m["workflowScheme"]["name"]: m["projectIds"] for m in mapping}
    assert by_scheme == {
        "Software workflow scheme": [str(site.project("ALPHA").id)],
        "Kanban workflow scheme": [str(site.project("BETA").id)],
    }
    software_scheme = full.get("workflowscheme/10100").json()
    assert software_scheme["issueTypeMappings"] == {
        "10004": "Simple workflow",
        "10005": "Simple workflow",
    }


def test_a_workflow_scheme_is_assigned_only_to_a_project_without_issues(full):
    created = full.post(
        "project", json={"key": "KAN", "name": "Kanban", "projectTypeKey": "software"}
    ).json()
    answer = full.put(
        "workflowscheme/project",
        json={"projectId": str(created["id"]), "workflowSchemeId": "10101"},
    )
    assert answer.status_code == 204
    new = full.post(
        "issue",
        json={"fields": {"project": {"key": "KAN"}, "issuetype": {"name": "Task"}, "summary": "x"}},
    ).json()["key"]
    assert "Block" not in names(full.get(f"issue/{new}/transitions"))
    refused = full.put(
        "workflowscheme/project",
        json={"projectId": str(created["id"]), "workflowSchemeId": "10100"},
    )
    assert refused.status_code == 400


def test_configuration_reads_need_an_admin(full):
    full.sandbox.remove_admin(full.sandbox.admin, "acme")
    assert full.get("workflows/search").status_code == 403
    assert full.get("workflowscheme").status_code == 403


@pytest.mark.parametrize("status", ["To Do", "In Progress", "In Review", "Done"])
def test_a_classic_site_reaches_every_status_in_one_transition(connected, status):
    site = connected.sandbox.site("acme")
    issue = next(i for i in site.live_issues() if headline(site, i)["status"]["name"] != status)
    offered = names(connected.get(f"issue/{issue.key}/transitions"))
    assert status in offered
    body = {"transition": {"id": offered[status]}}
    if status == "Done":
        body["fields"] = {"resolution": {"name": "Done"}}
    assert connected.post(f"issue/{issue.key}/transitions", json=body).status_code == 204
    assert connected.get(f"issue/{issue.key}").json()["fields"]["status"]["name"] == status
    assert connected.get("statuses/search").json()["total"] == 4


def test_an_administrator_edits_a_workflow_and_the_api_shows_the_new_version(full):
    site = full.sandbox.site("acme")
    todo = issue_in(site, "To Do", project="ALPHA")
    assert "Block" in names(full.get(f"issue/{todo.key}/transitions"))
    before = full.get("workflows/search", params={"expand": "values.transitions"}).json()
    software = next(w for w in before["values"] if w["name"] == "Software workflow")

    answer = requests.post(
        f"{full.sandbox.url}/_sandbox/workflows/edit",
        json={
            "site": "acme",
            "workflow": "Software workflow",
            "remove": ["51"],
            "add": [{"id": "101", "name": "Park", "to": "10000", "from": ["3"]}],
        },
        timeout=10,
    )

    assert answer.status_code == 200, answer.text
    after = full.get("workflows/search", params={"expand": "values.transitions"}).json()
    edited = next(w for w in after["values"] if w["name"] == "Software workflow")
    assert edited["id"] == software["id"]
    assert edited["version"]["versionNumber"] == software["version"]["versionNumber"] + 1
    assert edited["updated"] != software["updated"]
    ids = {t["id"] for t in edited["transitions"]}
    assert "51" not in ids and "101" in ids
    park = next(t for t in edited["transitions"] if t["id"] == "101")
    assert park["links"] == [{"fromStatusReference": "3", "fromPort": 0, "toPort": 1}]
    offered = names(full.get(f"issue/{todo.key}/transitions"))
    assert "Block" not in offered and "Start progress" in offered
    refused = requests.post(
        f"{full.sandbox.url}/_sandbox/workflows/edit",
        json={"site": "acme", "workflow": "Software workflow", "remove": ["51"]},
        timeout=10,
    )
    assert refused.status_code == 400 and "no transition" in refused.text
