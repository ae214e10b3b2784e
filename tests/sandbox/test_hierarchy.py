"""The issue hierarchy: epics (1), standard issues (0), sub-tasks (-1) and `fields.parent`."""

from __future__ import annotations

from sandbox.content import headline
from sandbox.state import SandboxState


def of_type(site, name: str):
    return [i for i in site.live_issues() if headline(site, i)["issuetype"]["name"] == name]


def create(connected, project: str, issuetype: str, **fields):
    payload = {"project": {"key": project}, "issuetype": {"name": issuetype}, "summary": "new"}
    return connected.post("issue", json={"fields": {**payload, **fields}})


def test_issue_types_carry_their_hierarchy_level(connected):
    types = {t["name"]: t for t in connected.get("issuetype").json()}
    assert types["Epic"]["hierarchyLevel"] == 1
    assert {types[n]["hierarchyLevel"] for n in ("Task", "Bug", "Story")} == {0}
    assert types["Subtask"]["hierarchyLevel"] == -1 and types["Subtask"]["subtask"] is True


def test_a_generated_site_has_epics_with_children_and_sub_tasks():
    state = SandboxState(seed="tree", projects=3, issues=400, features="hierarchy")
    site = state.site("acme")
    epics, subtasks = of_type(site, "Epic"), of_type(site, "Subtask")
    assert len(epics) >= 10 and len(subtasks) >= 30
    for sub in subtasks:
        parent = site.issues[site.parents[sub.id]]
        assert headline(site, parent)["issuetype"]["hierarchyLevel"] == 0
        assert parent.project_id == sub.project_id and parent.id < sub.id
    children = [c for e in epics for c in site.children.get(e.id, ())]
    assert len(children) > 100
    assert any(
        site.issues[c].project_id != e.project_id
        for e in epics
        for c in site.children.get(e.id, ())
    )
    assert not any(e.id in site.parents for e in epics)


def test_parent_and_subtasks_show_on_read(full):
    site = full.sandbox.site("acme")
    sub = of_type(site, "Subtask")[0]
    parent = site.issues[site.parents[sub.id]]
    fields = full.get(f"issue/{sub.key}").json()["fields"]
    assert fields["parent"]["key"] == parent.key
    assert fields["parent"]["fields"]["issuetype"]["hierarchyLevel"] == 0
    listed = full.get(f"issue/{parent.key}").json()["fields"]["subtasks"]
    assert sub.key in [s["key"] for s in listed]
    page = full.post(
        "search/jql", json={"jql": f"key = {sub.key}", "fields": ["parent", "issuetype"]}
    ).json()
    assert page["issues"][0]["fields"]["parent"]["id"] == str(parent.id)


def test_a_sub_task_without_a_parent_is_refused(full):
    answer = create(full, "ALPHA", "Subtask")
    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "parentId": "Issue type is a sub-task but parent issue key or id not specified."
    }


def test_children_are_created_with_a_parent_by_key_or_id(full):
    site = full.sandbox.site("acme")
    epic = of_type(site, "Epic")[0]
    story = create(full, "BETA", "Story", parent={"key": epic.key})  # across projects
    assert story.status_code == 201, story.text
    sub = create(full, "BETA", "Subtask", parent={"id": story.json()["id"]})
    assert sub.status_code == 201, sub.text
    assert (
        full.get(f"issue/{sub.json()['key']}").json()["fields"]["parent"]["key"]
        == story.json()["key"]
    )
    assert full.get(f"issue/{story.json()['key']}").json()["fields"]["parent"]["key"] == epic.key
    subtasks = full.get(f"issue/{story.json()['key']}").json()["fields"]["subtasks"]
    assert [s["key"] for s in subtasks] == [sub.json()["key"]]


def test_the_hierarchy_levels_are_enforced(full):
    site = full.sandbox.site("acme")
    epic, task = of_type(site, "Epic")[0], of_type(site, "Task")[0]
    assert create(full, "ALPHA", "Story", parent={"key": task.key}).status_code == 400
    assert create(full, "ALPHA", "Epic", parent={"key": epic.key}).status_code == 400
    assert create(full, "ALPHA", "Subtask", parent={"key": epic.key}).status_code == 400
    other = next(i for i in of_type(site, "Story") if i.project_id != task.project_id)
    cross = create(full, site.projects[task.project_id].key, "Subtask", parent={"key": other.key})
    assert cross.status_code == 400
    assert create(full, "ALPHA", "Task", parent={"key": "ALPHA-999"}).status_code == 400


def test_an_edit_moves_an_issue_to_another_epic_or_out_of_it(full):
    site = full.sandbox.site("acme")
    epics = of_type(site, "Epic")
    story = create(full, "ALPHA", "Story").json()["key"]
    assert (
        full.put(f"issue/{story}", json={"fields": {"parent": {"key": epics[0].key}}}).status_code
        == 204
    )
    assert full.get(f"issue/{story}").json()["fields"]["parent"]["key"] == epics[0].key
    answer = full.put(f"issue/{story}", json={"update": {"parent": [{"set": {"none": True}}]}})
    assert answer.status_code == 204
    assert "parent" not in full.get(f"issue/{story}").json()["fields"]
    changelog = full.get(f"issue/{story}/changelog").json()["values"]
    assert [i["fieldId"] for h in changelog for i in h["items"]] == ["parent", "parent"]


def test_jql_finds_children_and_epics(full):
    site = full.sandbox.site("acme")
    epic = next(e for e in of_type(site, "Epic") if site.children.get(e.id))
    page = full.get(
        "search/jql", params={"jql": f"parent = {epic.key}", "fields": "key", "maxResults": 100}
    ).json()
    assert sorted(i["key"] for i in page["issues"]) == sorted(
        site.issues[c].key for c in site.children[epic.id]
    )
    epics = full.get(
        "search/jql",
        params={"jql": "project in (ALPHA, BETA) AND issuetype = Epic", "fields": "key"},
    ).json()
    assert {i["key"] for i in epics["issues"]} == {e.key for e in of_type(site, "Epic")}


def test_deleting_a_parent_needs_delete_subtasks_and_takes_them_along(full):
    site = full.sandbox.site("acme")
    sub = of_type(site, "Subtask")[0]
    parent = site.issues[site.parents[sub.id]]
    assert full.delete(f"issue/{parent.key}").status_code == 400
    assert full.delete(f"issue/{parent.key}", params={"deleteSubtasks": "true"}).status_code == 204
    assert full.get(f"issue/{sub.key}").status_code == 404
    # An epic's children lose their parent instead.
    epic, child = next(
        (e, site.issues[c])
        for e in of_type(site, "Epic")
        for c in site.children.get(e.id, ())
        if not site.issues[c].deleted
    )
    assert full.delete(f"issue/{epic.key}").status_code == 204
    assert "parent" not in full.get(f"issue/{child.key}").json()["fields"]
