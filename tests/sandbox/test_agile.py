"""Jira Software's agile API: scopes, boards, sprints, backlog and rank, with the platform's
points and limits."""

from __future__ import annotations

import requests

from sandbox import catalog
from sandbox.content import headline
from sandbox.pytest_plugin import SOFTWARE_SCOPES
from sandbox.ratelimit import GLOBAL_POOL


def keys(page: dict) -> list[str]:
    return [i["key"] for i in page["issues"]]


def test_a_token_without_jira_software_scopes_is_refused(sandbox):
    sandbox.state.reset(seed="test", projects=2, issues=20, features="all")
    classic = sandbox.connect(sites=["acme"])  # the portal's platform scopes only
    agile = f"{sandbox.jira_url('acme')}/rest/agile/1.0/board"
    refused = requests.get(
        agile, headers={"Authorization": f"Bearer {classic.access_token}"}, timeout=10
    )
    assert refused.status_code == 401
    assert refused.json() == {"code": 401, "message": "Unauthorized; scope does not match"}
    partial = sandbox.connect(sites=["acme"], scope="read:board-scope:jira-software offline_access")
    still = requests.get(
        agile, headers={"Authorization": f"Bearer {partial.access_token}"}, timeout=10
    )
    assert still.status_code == 401  # GET board also needs read:project:jira
    granted = sandbox.connect(sites=["acme"], scope=f"{sandbox.scopes} {SOFTWARE_SCOPES}")
    ok = requests.get(
        agile, headers={"Authorization": f"Bearer {granted.access_token}"}, timeout=10
    )
    assert ok.status_code == 200 and ok.json()["total"] == 2


def test_the_oauth_server_offers_jira_software_scopes_on_accessible_resources(sandbox):
    tokens = sandbox.connect(sites=["acme"], scope=f"{sandbox.scopes} {SOFTWARE_SCOPES}")
    resources = requests.get(
        f"{sandbox.url}/oauth/token/accessible-resources",
        headers={"Authorization": f"Bearer {tokens.access_token}"},
        timeout=10,
    ).json()
    assert "write:sprint:jira-software" in resources[0]["scopes"]


def test_basic_auth_reaches_the_agile_api_at_the_site_url(sandbox, basic):
    sandbox.state.reset(seed="test", projects=2, issues=20, features="all")
    basic.auth = (sandbox.admin.email, sandbox.state.demo_api_token)
    answer = basic.get(f"{sandbox.site('acme').url}/rest/agile/1.0/board", timeout=10)
    assert answer.status_code == 200 and answer.json()["total"] == 2


def test_each_project_has_a_board_with_its_configuration(full):
    boards = full.agile_get("board").json()["values"]
    assert [(b["name"], b["type"], b["location"]["projectKey"]) for b in boards] == [
        ("ALPHA board", "scrum", "ALPHA"),
        ("BETA board", "scrum", "BETA"),
    ]
    alpha = full.agile_get("board", params={"projectKeyOrId": "ALPHA"}).json()["values"]
    assert [b["id"] for b in alpha] == [boards[0]["id"]]
    configuration = full.agile_get(f"board/{boards[1]['id']}/configuration").json()
    assert configuration["ranking"] == {"rankCustomFieldId": 10019}
    columns = {
        c["name"]: [s["id"] for s in c["statuses"]]
        for c in configuration["columnConfig"]["columns"]
    }
    assert columns["In Progress"] == ["3"]  # BETA's kanban workflow has no Blocked
    assert configuration["filter"]["id"] == str(full.sandbox.site("acme").boards[2].filter_id)
    board_filter = full.get(f"filter/{configuration['filter']['id']}").json()
    assert board_filter["jql"] == "project = BETA ORDER BY Rank ASC"


def test_sprints_have_states_dates_and_goals(full):
    sprints = full.agile_get("board/1/sprint").json()["values"]
    assert [s["state"] for s in sprints] == ["closed"] * 3 + ["active", "future", "future"]
    for sprint in sprints[:3]:
        assert sprint["startDate"] < sprint["endDate"] < sprint["completeDate"]
        assert sprint["goal"] and sprint["originBoardId"] == 1
    assert "completeDate" not in sprints[3] and "startDate" not in sprints[5]
    active = full.agile_get("board/1/sprint", params={"state": "active"}).json()["values"]
    assert [s["id"] for s in active] == [sprints[3]["id"]]


def test_issues_show_their_sprints_and_rank_as_jira_does(full):
    site = full.sandbox.site("acme")
    fields = {f["id"]: f for f in full.get("field").json()}
    assert (
        fields[catalog.SPRINT_FIELD]["schema"]["custom"] == "com.pyxis.greenhopper.jira:gh-sprint"
    )
    assert (
        fields[catalog.RANK_FIELD]["schema"]["custom"] == "com.pyxis.greenhopper.jira:gh-lexo-rank"
    )
    in_closed = next(
        i for i, s in site.issue_sprints.items() if site.sprints[s[0]].state == "closed"
    )
    issue = site.issues[in_closed]
    shown = full.get(f"issue/{issue.key}").json()["fields"]
    assert shown[catalog.SPRINT_FIELD][0]["state"] == "closed"
    assert shown[catalog.SPRINT_FIELD][0]["id"] == site.issue_sprints[in_closed][0]
    assert shown[catalog.RANK_FIELD].startswith("0|") and shown[catalog.RANK_FIELD].endswith(":")
    agile = full.agile_get(f"sprint/{site.issue_sprints[in_closed][0]}/issue").json()
    mine = next(i for i in agile["issues"] if i["key"] == issue.key)["fields"]
    assert mine["closedSprints"][0]["state"] == "closed"
    active = next(i for i, s in site.issue_sprints.items() if site.sprints[s[-1]].state == "active")
    agile = full.agile_get(f"sprint/{site.issue_sprints[active][-1]}/issue").json()
    mine = next(i for i in agile["issues"] if i["key"] == site.issues[active].key)["fields"]
    assert mine["sprint"]["state"] == "active"
    outside = next(i for i in site.live_issues() if i.id not in site.issue_sprints)
    assert full.get(f"issue/{outside.key}").json()["fields"][catalog.SPRINT_FIELD] is None


def test_sprint_issues_and_the_backlog_come_in_rank_order(full):
    site = full.sandbox.site("acme")
    page = full.agile_get("sprint/4/issue").json()
    expected = sorted(
        (site.ranks[i], site.issues[i].key) for i, s in site.issue_sprints.items() if 4 in s
    )
    assert keys(page) == [k for _r, k in expected] and page["total"] == len(expected)
    backlog = full.agile_get("board/1/backlog").json()
    for issue in backlog["issues"]:
        assert issue["fields"]["sprint"] is None
        assert issue["fields"]["status"]["statusCategory"]["key"] != "done"
        assert issue["fields"]["issuetype"]["name"] != "Epic"
    ranks = [site.ranks[int(i["id"])] for i in backlog["issues"]]
    assert ranks == sorted(ranks)


def test_a_sprint_is_created_filled_started_and_closed(full):
    site = full.sandbox.site("acme")
    created = full.agile_post(
        "sprint",
        json={"name": "Restored 1", "originBoardId": 1, "goal": "Bring it back"},
    )
    assert created.status_code == 201 and created.json()["state"] == "future"
    sprint_id = created.json()["id"]
    candidates = [
        i.key
        for i in site.live_issues()
        if i.project_id == site.project("ALPHA").id
        and headline(site, i)["issuetype"]["name"] in ("Task", "Story", "Bug")
    ][:3]
    assert (
        full.agile_post(f"sprint/{sprint_id}/issue", json={"issues": candidates}).status_code == 204
    )
    subtasks = [
        site.issues[c].key
        for k in candidates
        for c in site.children.get(site.issue(k).id, ())
        if headline(site, site.issues[c])["issuetype"]["subtask"]
    ]
    members = keys(full.agile_get(f"sprint/{sprint_id}/issue").json())
    assert subtasks and sorted(members) == sorted(candidates + subtasks)
    # The board already has an active sprint: close it first; and a start needs dates.
    assert full.agile_post(f"sprint/{sprint_id}", json={"state": "active"}).status_code == 400
    assert full.agile_post("sprint/4", json={"state": "closed"}).status_code == 200
    dates = {"startDate": "2025-03-01T09:00:00.000Z", "endDate": "2025-03-15T09:00:00.000Z"}
    started = full.agile_post(f"sprint/{sprint_id}", json={"state": "active", **dates})
    assert started.status_code == 200 and started.json()["startDate"] == dates["startDate"]
    assert full.agile_post(f"sprint/{sprint_id}", json={"state": "future"}).status_code == 400
    closed = full.agile_post(f"sprint/{sprint_id}", json={"state": "closed"}).json()
    assert (
        closed["state"] == "closed"
        and "completeDate" in closed
        and closed["goal"] == "Bring it back"
    )
    # Closed sprints stay on the issues; nothing more goes into them.
    field = full.get(f"issue/{candidates[0]}").json()["fields"][catalog.SPRINT_FIELD]
    assert field[-1] == {
        "id": sprint_id,
        "name": "Restored 1",
        "state": "closed",
        "boardId": 1,
        "goal": "Bring it back",
        "startDate": dates["startDate"],
        "endDate": dates["endDate"],
        "completeDate": closed["completeDate"],
    }
    assert (
        full.agile_post(f"sprint/{sprint_id}/issue", json={"issues": candidates}).status_code == 400
    )


def test_moves_take_at_most_50_issues_and_sub_tasks_follow_their_parent(full):
    site = full.sandbox.site("acme")
    too_many = full.agile_post("sprint/5/issue", json={"issues": ["ALPHA-1"] * 51})
    assert too_many.status_code == 400
    sub = next(i for i in site.live_issues() if headline(site, i)["issuetype"]["subtask"])
    parent = site.issues[site.parents[sub.id]]
    assert full.agile_post("sprint/5/issue", json={"issues": [sub.key]}).status_code == 400
    board = next(b for b in site.boards.values() if b.project_id == parent.project_id)
    target = next(
        s for s in site.sprints.values() if s.board_id == board.id and s.state == "future"
    )
    assert (
        full.agile_post(f"sprint/{target.id}/issue", json={"issues": [parent.key]}).status_code
        == 204
    )
    assert (
        full.get(f"issue/{sub.key}").json()["fields"][catalog.SPRINT_FIELD][-1]["id"] == target.id
    )
    assert full.agile_post("backlog/issue", json={"issues": [parent.key]}).status_code == 204
    sprints = full.get(f"issue/{sub.key}").json()["fields"][catalog.SPRINT_FIELD] or []
    assert all(s["state"] == "closed" for s in sprints)


def test_rank_moves_issues_before_or_after_another(full):
    site = full.sandbox.site("acme")
    members = [i for i, s in site.issue_sprints.items() if 4 in s]
    order = keys(full.agile_get("sprint/4/issue").json())
    first, last = order[0], order[-1]
    assert (
        full.agile_put("issue/rank", json={"issues": [last], "rankBeforeIssue": first}).status_code
        == 204
    )
    now = keys(full.agile_get("sprint/4/issue").json())
    assert now[0] == last and now[1] == first and len(now) == len(members)
    assert (
        full.agile_put(
            "issue/rank", json={"issues": [now[0], now[1]], "rankAfterIssue": now[-1]}
        ).status_code
        == 204
    )
    assert keys(full.agile_get("sprint/4/issue").json())[-2:] == [now[0], now[1]]
    rank_field = [
        full.get(f"issue/{k}").json()["fields"][catalog.RANK_FIELD]
        for k in keys(full.agile_get("sprint/4/issue").json())
    ]
    assert rank_field == sorted(rank_field)
    page = full.get(
        "search/jql", params={"jql": "sprint = 4 ORDER BY rank", "fields": "key", "maxResults": 100}
    ).json()
    assert [i["key"] for i in page["issues"]] == keys(full.agile_get("sprint/4/issue").json())
    assert (
        full.agile_put(
            "issue/rank", json={"issues": ["ALPHA-1"] * 51, "rankAfterIssue": first}
        ).status_code
        == 400
    )


def test_a_new_issue_goes_to_the_bottom_of_the_ranking(full):
    site = full.sandbox.site("acme")
    created = full.post(
        "issue",
        json={
            "fields": {"project": {"key": "ALPHA"}, "issuetype": {"name": "Task"}, "summary": "x"}
        },
    ).json()
    assert site.ranks[int(created["id"])] == max(site.ranks.values())
    project = full.post("project", json={"key": "NEW", "name": "New", "projectTypeKey": "software"})
    boards = full.agile_get("board", params={"projectKeyOrId": "NEW"}).json()["values"]
    assert project.status_code == 201 and [b["name"] for b in boards] == ["NEW board"]


def test_agile_calls_cost_points_like_platform_calls(full):
    ledger = full.sandbox.ledger
    ledger.clear()
    assert full.agile_get("board/1").status_code == 200
    assert ledger.points(pool=GLOBAL_POOL, site="acme") == 2
    ledger.clear()
    page = full.agile_get("board/1/sprint").json()
    assert ledger.points() == 1 + len(page["values"])
    ledger.clear()
    full.agile_post("backlog/issue", json={"issues": ["ALPHA-3"]})
    assert ledger.points() == 1


def test_agile_endpoints_have_burst_buckets(full):
    full.sandbox.clock.freeze()
    full.sandbox.set_quota(burst={"GET": 3})
    statuses = [full.agile_get("board/1").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert full.agile_get("board/1/sprint").status_code == 200  # its own bucket


def test_a_classic_site_has_no_boards(connected, sandbox):
    tokens = sandbox.connect(sites=["acme"], scope=f"{sandbox.scopes} {SOFTWARE_SCOPES}")
    answer = requests.get(
        f"{sandbox.jira_url('acme')}/rest/agile/1.0/board",
        headers={"Authorization": f"Bearer {tokens.access_token}"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["values"] == []
    assert catalog.RANK_FIELD not in connected.get("issue/ALPHA-1").json()["fields"]


def test_a_new_sub_task_joins_its_parents_open_sprint(full):
    site = full.sandbox.site("acme")
    parent = next(
        site.issues[i]
        for i, s in site.issue_sprints.items()
        if site.sprints[s[-1]].state == "active"
        and headline(site, site.issues[i])["issuetype"]["hierarchyLevel"] == 0
    )
    created = full.post(
        "issue",
        json={
            "fields": {
                "project": {"id": str(parent.project_id)},
                "issuetype": {"name": "Subtask"},
                "summary": "part",
                "parent": {"key": parent.key},
            }
        },
    ).json()
    sprints = full.get(f"issue/{created['key']}").json()["fields"][catalog.SPRINT_FIELD]
    assert [s["id"] for s in sprints] == [site.issue_sprints[parent.id][-1]]
