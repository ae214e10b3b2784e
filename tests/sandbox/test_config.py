"""Configuration a backup reads and a restore writes back: schemes, screens, field
configurations, contexts and options, filters, dashboards, roles, versions, components."""

from __future__ import annotations

from sandbox.content import issue_doc, plain


def issue_with_tier(site, value: str):
    for issue in site.live_issues():
        tier = plain(site, issue_doc(site, issue)["fields"]["customfield_10020"])
        if tier and tier["value"] == value:
            return issue
    raise AssertionError(value)


def test_schemes_map_every_project(connected):
    site = connected.sandbox.site("acme")
    ids = [p.id for p in site.projects.values()]
    for path in (
        "issuetypescheme/project",
        "issuetypescreenscheme/project",
        "fieldconfigurationscheme/project",
    ):
        values = connected.get(path, params={"projectId": ids}).json()["values"]
        assert sorted(p for v in values for p in v["projectIds"]) == sorted(map(str, ids)), path
    mapping = connected.get("issuetypescreenscheme/mapping").json()["values"]
    screen_schemes = {str(s["id"]) for s in connected.get("screenscheme").json()["values"]}
    assert {m["screenSchemeId"] for m in mapping} <= screen_schemes
    screens = {s["id"] for s in connected.get("screens").json()["values"]}
    for scheme in connected.get("screenscheme").json()["values"]:
        assert set(scheme["screens"].values()) <= screens
    resolve = connected.get("screens/3/tabs").json()[0]
    fields = connected.get(f"screens/3/tabs/{resolve['id']}/fields").json()
    assert [f["id"] for f in fields] == ["resolution", "fixVersions", "assignee"]
    items = connected.get("fieldconfiguration/10100/fields", params={"maxResults": 100}).json()
    required = {i["id"] for i in items["values"] if i["isRequired"]}
    assert required == {"summary", "issuetype", "environment"}


def test_permission_notification_and_security_schemes(connected):
    alpha = connected.get("project/ALPHA/permissionscheme").json()
    beta = connected.get("project/BETA/permissionscheme", params={"expand": "permissions"}).json()
    assert alpha["id"] == 0 and beta["id"] == 10000
    grants = {g["permission"]: g["holder"] for g in beta["permissions"]}
    assert grants["BROWSE_PROJECTS"] == {
        "type": "projectRole",
        "parameter": "10003",
        "value": "10003",
    }
    listed = connected.get("permissionscheme").json()["permissionSchemes"]
    assert [s["id"] for s in listed] == [0, 10000]
    notifications = connected.get("notificationscheme").json()["values"][0]
    assert {e["event"]["name"] for e in notifications["notificationSchemeEvents"]} >= {
        "Issue Created"
    }
    assert connected.get("project/BETA/issuesecuritylevelscheme").json()["levels"]
    assert connected.get("project/ALPHA/issuesecuritylevelscheme").status_code == 404


def test_configuration_is_the_same_for_the_same_seed(sandbox, connected):
    paths = ("filter/search?expand=jql,sharePermissions", "dashboard", "workflowscheme", "screens")
    first = [connected.get(p).content for p in paths]
    sandbox.state.reset(seed="test", projects=2, issues=20)
    fresh = sandbox.connect(sites=["acme"])
    connected.http.headers["Authorization"] = f"Bearer {fresh.access_token}"
    assert [connected.get(p).content for p in paths] == first


def test_options_are_created_renamed_and_deleted_and_issues_follow(connected):
    site = connected.sandbox.site("acme")
    path = "field/customfield_10020/context/10200/option"
    created = connected.post(path, json={"options": [{"value": "Platinum"}]}).json()["options"]
    assert created[0]["value"] == "Platinum" and created[0]["disabled"] is False
    assert [o["value"] for o in connected.get(path).json()["values"]][-1] == "Platinum"
    issue = issue_with_tier(site, "Gold")
    # A created option is a valid value at once.
    answer = connected.put(
        f"issue/{issue.key}", json={"fields": {"customfield_10020": {"value": "Platinum"}}}
    )
    assert answer.status_code == 204
    other = issue_with_tier(site, "Silver")
    renamed = connected.put(path, json={"options": [{"id": "10101", "value": "Argent"}]})
    assert renamed.json()["options"][0]["value"] == "Argent"
    assert (
        connected.get(f"issue/{other.key}").json()["fields"]["customfield_10020"]["value"]
        == "Argent"
    )
    bronze = issue_with_tier(site, "Bronze")
    assert connected.delete(f"{path}/10102").status_code == 204
    assert connected.get(f"issue/{bronze.key}").json()["fields"]["customfield_10020"] is None
    refused = connected.put(
        f"issue/{other.key}", json={"fields": {"customfield_10020": {"id": "10102"}}}
    )
    assert refused.status_code == 400
    # Recreating the option (with a new id) makes the value settable again.
    again = connected.post(path, json={"options": [{"value": "Bronze"}]}).json()["options"][0]
    answer = connected.put(
        f"issue/{bronze.key}", json={"fields": {"customfield_10020": {"value": "Bronze"}}}
    )
    assert answer.status_code == 204
    assert (
        connected.get(f"issue/{bronze.key}").json()["fields"]["customfield_10020"]["id"]
        == again["id"]
    )
    body = {"jql": "project in (ALPHA, BETA)", "fields": ["customfield_10020"], "maxResults": 100}
    page = connected.post("search/jql", json=body).json()
    shown = {(i["fields"]["customfield_10020"] or {}).get("id") for i in page["issues"]}
    assert "10102" not in shown and again["id"] in shown


def test_a_new_context_and_its_mappings(connected):
    site = connected.sandbox.site("acme")
    project = str(site.project("BETA").id)
    created = connected.post(
        "field/customfield_10021/context",
        json={"name": "Beta bugs", "projectIds": [project], "issueTypeIds": ["10002"]},
    ).json()
    path = f"field/customfield_10021/context/{created['id']}/option"
    assert connected.post(path, json={"options": [{"value": "Watch"}]}).status_code == 200
    projects = connected.get("field/customfield_10021/context/projectmapping").json()["values"]
    assert {"contextId": created["id"], "projectId": project} in projects
    types = connected.get("field/customfield_10021/context/issuetypemapping").json()["values"]
    assert {"contextId": created["id"], "issueTypeId": "10002"} in types
    answer = connected.put(
        "issue/BETA-1", json={"fields": {"customfield_10021": [{"value": "Watch"}]}}
    )
    assert answer.status_code == 204


def test_filters_are_created_shared_and_updated(connected):
    site = connected.sandbox.site("acme")
    project = str(site.project("ALPHA").id)
    created = connected.post(
        "filter",
        json={
            "name": "Restored filter",
            "description": "from the snapshot",
            "jql": "project = ALPHA AND labels = restored",
            "sharePermissions": [{"type": "project", "project": {"id": project}}],
        },
    ).json()
    assert created["owner"]["accountId"] == connected.sandbox.admin.account_id
    assert created["sharePermissions"][0]["project"]["key"] == "ALPHA"
    duplicate = connected.post("filter", json={"name": "Restored filter", "jql": "x"})
    assert duplicate.status_code == 400
    updated = connected.put(f"filter/{created['id']}", json={"jql": "project = BETA"}).json()
    assert updated["jql"] == "project = BETA" and updated["description"] == "from the snapshot"
    found = connected.get(
        "filter/search", params={"filterName": "restored", "expand": "jql"}
    ).json()
    assert [(f["id"], f["jql"]) for f in found["values"]] == [(created["id"], "project = BETA")]
    shared = connected.get("filter/search", params={"projectId": project}).json()["values"]
    assert created["id"] in [f["id"] for f in shared]


def test_dashboards_with_gadgets(connected):
    listed = connected.get("dashboard").json()
    assert listed["total"] == 2 and listed["dashboards"][0]["systemDashboard"] is True
    team = listed["dashboards"][1]
    gadgets = connected.get(f"dashboard/{team['id']}/gadget").json()["gadgets"]
    assert [g["title"] for g in gadgets] == ["Open bugs", "Issues by status", "Activity"]
    assert "filterId=" in gadgets[0]["uri"]
    created = connected.post(
        "dashboard",
        json={
            "name": "Restored",
            "description": "back",
            "sharePermissions": [{"type": "loggedin"}],
            "editPermissions": [],
        },
    ).json()
    gadget = connected.post(
        f"dashboard/{created['id']}/gadget",
        json={
            "moduleKey": "com.atlassian.jira.gadgets:pie-chart",
            "title": "Pie",
            "position": {"row": 0, "column": 1},
        },
    ).json()
    assert gadget["position"] == {"row": 0, "column": 1} and gadget["color"] == "blue"
    again = connected.get(f"dashboard/{created['id']}/gadget").json()["gadgets"]
    assert [g["id"] for g in again] == [gadget["id"]]
    system = listed["dashboards"][0]["id"]
    assert connected.post(f"dashboard/{system}/gadget", json={"moduleKey": "x"}).status_code == 400


def test_role_actors_are_added_for_users_that_exist(connected):
    site = connected.sandbox.site("acme")
    user = sorted(site.members - set(site.project("ALPHA").roles[10004]))[0]
    role = connected.post("project/ALPHA/role/10004", json={"user": [user]}).json()
    assert user in [a["actorUser"]["accountId"] for a in role["actors"]]
    assert (
        connected.post("project/ALPHA/role/10004", json={"user": ["712020:gone"]}).status_code
        == 400
    )
    assert [r["name"] for r in connected.get("role").json()] == [
        "Administrators",
        "Developers",
        "Viewers",
    ]


def test_versions_and_components_are_updated(connected):
    site = connected.sandbox.site("acme")
    version = site.project("ALPHA").versions[0]
    updated = connected.put(
        f"version/{version['id']}",
        json={"released": True, "releaseDate": "2025-10-01", "description": "shipped"},
    ).json()
    assert updated["released"] is True and updated["releaseDate"] == "2025-10-01"
    assert connected.get(f"version/{version['id']}").json()["description"] == "shipped"
    component = site.project("ALPHA").components[0]
    lead = sorted(site.members)[0]
    changed = connected.put(
        f"component/{component['id']}", json={"description": "owned", "leadAccountId": lead}
    ).json()
    assert changed["description"] == "owned" and changed["lead"]["accountId"] == lead
    components = connected.get("project/ALPHA/components").json()
    assert components[0]["description"] == "owned"
