"""Workflows, transitions, edits, the Jira Software API and media ids, over HTTP against a
sandbox site with every feature, through a grant that carries Jira Software's scopes."""

from __future__ import annotations

import pytest

from atlassian.endpoints import family_for_path
from atlassian.exceptions import ApiBadRequest
from sandbox.pytest_plugin import SOFTWARE_SCOPES

pytestmark = pytest.mark.django_db


@pytest.fixture
def jira(atlassian_settings, sandbox, client_kwargs):
    from atlassian.client import JiraClient

    sandbox.state.reset(seed="test", features="all", projects=2, issues=40)
    tokens = sandbox.connect(sites=["acme"], scope=f"{sandbox.scopes} {SOFTWARE_SCOPES}")
    site = sandbox.site("acme")
    client = JiraClient.for_grant(site.cloud_id, lambda: tokens.access_token, **client_kwargs)
    yield client
    client.session.close()


def _todo_task(jira) -> dict:
    project = next(iter(jira.projects()))
    return jira.create_issue(
        {
            "fields": {
                "project": {"key": project["key"]},
                "issuetype": {"name": "Task"},
                "summary": "walk the workflow",
            }
        }
    )


def test_it_walks_an_issue_to_done_filling_the_required_resolution(jira):
    issue = _todo_task(jira)
    workflows = {w["name"]: w for w in jira.workflows()}
    assert "Software workflow" in workflows
    assert any(t.get("links") for t in workflows["Software workflow"]["transitions"])

    for name in ("Start progress", "Request review"):
        transition = next(t for t in jira.transitions(issue["key"]) if t["name"] == name)
        jira.transition_issue(issue["key"], transition["id"])
    approve = next(t for t in jira.transitions(issue["key"]) if t["name"] == "Approve")
    assert approve["fields"]["resolution"]["required"] is True
    with pytest.raises(ApiBadRequest):
        jira.transition_issue(issue["key"], approve["id"])
    jira.transition_issue(issue["key"], approve["id"], fields={"resolution": {"name": "Done"}})

    fields = jira.get_issue(issue["key"], fields=("status", "resolution"))["fields"]
    assert (fields["status"]["name"], fields["resolution"]["name"]) == ("Done", "Done")


def test_it_reads_schemes_statuses_and_resolutions(jira):
    projects = list(jira.projects())
    schemes = jira.workflow_scheme_projects([p["id"] for p in projects])
    names = {s["workflowScheme"]["defaultWorkflow"] for s in schemes}
    assert names == {"Software workflow", "Kanban workflow"}
    per_type = jira.project_statuses(projects[1]["key"])
    task = next(t for t in per_type if t["name"] == "Task")
    assert "Blocked" not in {s["name"] for s in task["statuses"]}
    assert {"Done", "Won't Do"} <= {r["name"] for r in jira.resolutions()}


def test_it_edits_an_issue(jira):
    issue = _todo_task(jira)
    jira.edit_issue(issue["key"], fields={"summary": "edited"})
    assert jira.get_issue(issue["key"], fields=("summary",))["fields"]["summary"] == "edited"


def test_it_creates_starts_and_closes_a_sprint_and_ranks_issues(jira, sandbox):
    project = next(iter(jira.projects()))
    board = next(iter(jira.boards(project_key=project["key"])))
    rank_field = jira.board_configuration(board["id"])["ranking"]["rankCustomFieldId"]
    assert len(list(jira.board_sprints(board["id"]))) == 6
    first, second = _todo_task(jira), _todo_task(jira)

    sprint = jira.create_sprint(
        {
            "name": "Restored sprint",
            "originBoardId": board["id"],
            "startDate": "2025-03-01T09:00:00.000Z",
            "endDate": "2025-03-15T09:00:00.000Z",
            "goal": "kept",
        }
    )
    assert sprint["state"] == "future"
    jira.move_to_sprint(sprint["id"], [first["key"], second["key"]])
    jira.rank_issues([second["key"]], before=first["key"], rank_field_id=rank_field)

    site = sandbox.site("acme")
    ids = (int(first["id"]), int(second["id"]))
    assert site.ranks[ids[1]] < site.ranks[ids[0]]
    assert sprint["id"] in site.issue_sprints[ids[0]]
    with pytest.raises(ApiBadRequest):
        jira.update_sprint(sprint["id"], {"state": "closed"})


def test_it_resolves_an_attachment_to_its_media_id_without_following_the_redirect(jira, sandbox):
    from sandbox import media

    site = sandbox.site("acme")
    issue = next(i for i in site.live_issues() if jira.get_issue(i.key)["fields"]["attachment"])
    attachment = jira.get_issue(issue.key)["fields"]["attachment"][0]

    assert jira.attachment_media_id(attachment["id"]) == media.media_id(site, attachment["id"])


def test_agile_paths_have_their_own_families():
    base = "/ex/jira/abc/rest/agile/1.0"
    assert family_for_path(f"{base}/board/3/sprint") == "agile/board/{id}/sprint"
    assert family_for_path(f"{base}/sprint/12/issue") == "agile/sprint/{id}/issue"
    assert family_for_path(f"{base}/issue/rank") == "agile/issue/rank"
    assert family_for_path("/ex/jira/abc/rest/api/3/issue/AB-1/transitions") == (
        "issue/{key}/transitions"
    )
