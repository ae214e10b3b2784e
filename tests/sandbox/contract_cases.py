"""Contract cases for the operations added for workflows, hierarchy, edits, configuration
(platform API) and for Jira Software's agile API. Each is (operation, status, call); a call
gets a Connected session (`c`, on a site generated with every feature) and the `d` data dict
of tests/sandbox/test_contract.py, and returns the response to validate."""

from __future__ import annotations

from collections.abc import Callable

import requests

Call = Callable[..., requests.Response]

ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "edited"}]}],
}


def _new_project_then(c, then: Callable) -> requests.Response:
    created = c.post(
        "project", json={"key": "EMPTY", "name": "Empty", "projectTypeKey": "software"}
    ).json()
    return then(created["id"])


PLATFORM: list[tuple[str, int, Call]] = [
    # workflows and transitions
    (
        "GET issue/{issueIdOrKey}/transitions",
        200,
        lambda c, d: c.get(
            f"issue/{d['todo']}/transitions", params={"expand": "transitions.fields"}
        ),
    ),
    (
        "GET issue/{issueIdOrKey}/transitions",
        404,
        lambda c, d: c.get("issue/ALPHA-999/transitions"),
    ),
    (
        "POST issue/{issueIdOrKey}/transitions",
        204,
        lambda c, d: c.post(
            f"issue/{d['todo']}/transitions", json={"transition": {"id": d["start"]}}
        ),
    ),
    (
        "POST issue/{issueIdOrKey}/transitions",
        400,
        lambda c, d: c.post(f"issue/{d['todo']}/transitions", json={"transition": {"id": "999"}}),
    ),
    (
        "POST issue/{issueIdOrKey}/transitions",
        404,
        lambda c, d: c.post("issue/ALPHA-999/transitions", json={"transition": {"id": "11"}}),
    ),
    (
        "GET workflows/search",
        200,
        lambda c, d: c.get("workflows/search", params={"expand": "values.transitions"}),
    ),
    ("GET workflowscheme", 200, lambda c, d: c.get("workflowscheme")),
    ("GET workflowscheme/{id}", 200, lambda c, d: c.get("workflowscheme/10100")),
    ("GET workflowscheme/{id}", 404, lambda c, d: c.get("workflowscheme/1")),
    (
        "GET workflowscheme/project",
        200,
        lambda c, d: c.get("workflowscheme/project", params={"projectId": d["project_ids"]}),
    ),
    (
        "PUT workflowscheme/project",
        204,
        lambda c, d: _new_project_then(
            c,
            lambda pid: c.put(
                "workflowscheme/project",
                json={"projectId": str(pid), "workflowSchemeId": "10101"},
            ),
        ),
    ),
    (
        "PUT workflowscheme/project",
        400,
        lambda c, d: c.put(
            "workflowscheme/project",
            json={"projectId": str(d["project_ids"][0]), "workflowSchemeId": "10101"},
        ),
    ),
    ("GET project/{projectIdOrKey}/statuses", 200, lambda c, d: c.get("project/BETA/statuses")),
    ("GET project/{projectIdOrKey}/statuses", 404, lambda c, d: c.get("project/NOPE/statuses")),
    ("GET resolution/search", 200, lambda c, d: c.get("resolution/search")),
    # edits and deletions
    (
        "PUT issue/{issueIdOrKey}",
        204,
        lambda c, d: c.put(
            f"issue/{d['todo']}",
            json={
                "fields": {"summary": "Edited", "customfield_10020": {"value": "Silver"}},
                "update": {"labels": [{"add": "edited"}], "comment": [{"add": {"body": ADF}}]},
            },
        ),
    ),
    (
        "PUT issue/{issueIdOrKey}",
        400,
        lambda c, d: c.put(f"issue/{d['todo']}", json={"fields": {"status": {"id": "3"}}}),
    ),
    ("PUT issue/{issueIdOrKey}", 404, lambda c, d: c.put("issue/ALPHA-999", json={"fields": {}})),
    ("DELETE issue/{issueIdOrKey}", 204, lambda c, d: c.delete(f"issue/{d['leaf']}")),
    ("DELETE issue/{issueIdOrKey}", 400, lambda c, d: c.delete(f"issue/{d['with_subtasks']}")),
    ("DELETE issue/{issueIdOrKey}", 404, lambda c, d: c.delete("issue/ALPHA-999")),
    (
        "GET issue/{issueIdOrKey}/comment/{id}",
        200,
        lambda c, d: c.get(f"issue/{d['comment'][0]}/comment/{d['comment'][1]}"),
    ),
    (
        "GET issue/{issueIdOrKey}/comment/{id}",
        404,
        lambda c, d: c.get(f"issue/{d['comment'][0]}/comment/1"),
    ),
    (
        "PUT issue/{issueIdOrKey}/comment/{id}",
        200,
        lambda c, d: c.put(
            f"issue/{d['comment'][0]}/comment/{d['comment'][1]}", json={"body": ADF}
        ),
    ),
    (
        "PUT issue/{issueIdOrKey}/comment/{id}",
        400,
        lambda c, d: c.put(
            f"issue/{d['comment'][0]}/comment/{d['comment'][1]}", json={"body": "plain"}
        ),
    ),
    (
        "DELETE issue/{issueIdOrKey}/comment/{id}",
        204,
        lambda c, d: c.delete(f"issue/{d['comment'][0]}/comment/{d['comment'][1]}"),
    ),
    (
        "DELETE issue/{issueIdOrKey}/comment/{id}",
        404,
        lambda c, d: c.delete(f"issue/{d['comment'][0]}/comment/1"),
    ),
    (
        "GET issue/{issueIdOrKey}/worklog/{id}",
        200,
        lambda c, d: c.get(f"issue/{d['worklog'][0]}/worklog/{d['worklog'][1]}"),
    ),
    (
        "GET issue/{issueIdOrKey}/worklog/{id}",
        404,
        lambda c, d: c.get(f"issue/{d['worklog'][0]}/worklog/1"),
    ),
    (
        "DELETE issue/{issueIdOrKey}/worklog/{id}",
        204,
        lambda c, d: c.delete(f"issue/{d['worklog'][0]}/worklog/{d['worklog'][1]}"),
    ),
    ("DELETE attachment/{id}", 204, lambda c, d: c.delete(f"attachment/{d['attachment_id']}")),
    ("DELETE attachment/{id}", 404, lambda c, d: c.delete("attachment/1")),
    ("GET issueLink/{linkId}", 200, lambda c, d: c.get(f"issueLink/{d['link_id']}")),
    ("GET issueLink/{linkId}", 404, lambda c, d: c.get("issueLink/1")),
    ("DELETE issueLink/{linkId}", 204, lambda c, d: c.delete(f"issueLink/{d['link_id']}")),
    ("DELETE issueLink/{linkId}", 404, lambda c, d: c.delete("issueLink/1")),
    (
        "GET issue/{issueIdOrKey}/remotelink/{linkId}",
        200,
        lambda c, d: c.get(f"issue/{d['remote'][0]}/remotelink/{d['remote'][1]}"),
    ),
    (
        "GET issue/{issueIdOrKey}/remotelink/{linkId}",
        404,
        lambda c, d: c.get(f"issue/{d['remote'][0]}/remotelink/1"),
    ),
    (
        "DELETE issue/{issueIdOrKey}/remotelink/{linkId}",
        204,
        lambda c, d: c.delete(f"issue/{d['remote'][0]}/remotelink/{d['remote'][1]}"),
    ),
    (
        "DELETE issue/{issueIdOrKey}/properties/{propertyKey}",
        204,
        lambda c, d: c.delete(f"issue/{d['propertied']}/properties/sandbox.metadata"),
    ),
    (
        "DELETE issue/{issueIdOrKey}/properties/{propertyKey}",
        404,
        lambda c, d: c.delete("issue/ALPHA-1/properties/none"),
    ),
    # configuration: schemes and screens
    ("GET issuetypescheme", 200, lambda c, d: c.get("issuetypescheme")),
    ("GET issuetypescheme/mapping", 200, lambda c, d: c.get("issuetypescheme/mapping")),
    (
        "GET issuetypescheme/project",
        200,
        lambda c, d: c.get("issuetypescheme/project", params={"projectId": d["project_ids"]}),
    ),
    ("GET issuetypescreenscheme", 200, lambda c, d: c.get("issuetypescreenscheme")),
    ("GET issuetypescreenscheme/mapping", 200, lambda c, d: c.get("issuetypescreenscheme/mapping")),
    (
        "GET issuetypescreenscheme/project",
        200,
        lambda c, d: c.get("issuetypescreenscheme/project", params={"projectId": d["project_ids"]}),
    ),
    ("GET screens", 200, lambda c, d: c.get("screens")),
    ("GET screens/{screenId}/tabs", 200, lambda c, d: c.get("screens/3/tabs")),
    ("GET screens/{screenId}/tabs", 404, lambda c, d: c.get("screens/99/tabs")),
    (
        "GET screens/{screenId}/tabs/{tabId}/fields",
        200,
        lambda c, d: c.get("screens/3/tabs/31/fields"),
    ),
    (
        "GET screens/{screenId}/tabs/{tabId}/fields",
        404,
        lambda c, d: c.get("screens/3/tabs/1/fields"),
    ),
    ("GET screenscheme", 200, lambda c, d: c.get("screenscheme")),
    ("GET fieldconfiguration", 200, lambda c, d: c.get("fieldconfiguration")),
    (
        "GET fieldconfiguration/{id}/fields",
        200,
        lambda c, d: c.get("fieldconfiguration/10100/fields"),
    ),
    ("GET fieldconfiguration/{id}/fields", 404, lambda c, d: c.get("fieldconfiguration/1/fields")),
    ("GET fieldconfigurationscheme", 200, lambda c, d: c.get("fieldconfigurationscheme")),
    (
        "GET fieldconfigurationscheme/mapping",
        200,
        lambda c, d: c.get("fieldconfigurationscheme/mapping"),
    ),
    (
        "GET fieldconfigurationscheme/project",
        200,
        lambda c, d: c.get(
            "fieldconfigurationscheme/project", params={"projectId": d["project_ids"]}
        ),
    ),
    ("GET permissionscheme", 200, lambda c, d: c.get("permissionscheme", params={"expand": "all"})),
    (
        "GET permissionscheme/{schemeId}",
        200,
        lambda c, d: c.get("permissionscheme/10000", params={"expand": "permissions"}),
    ),
    ("GET permissionscheme/{schemeId}", 404, lambda c, d: c.get("permissionscheme/5")),
    (
        "GET project/{projectKeyOrId}/permissionscheme",
        200,
        lambda c, d: c.get("project/BETA/permissionscheme"),
    ),
    (
        "GET project/{projectKeyOrId}/permissionscheme",
        404,
        lambda c, d: c.get("project/NOPE/permissionscheme"),
    ),
    ("GET notificationscheme", 200, lambda c, d: c.get("notificationscheme")),
    ("GET notificationscheme/{id}", 200, lambda c, d: c.get("notificationscheme/10000")),
    ("GET notificationscheme/{id}", 404, lambda c, d: c.get("notificationscheme/5")),
    (
        "GET project/{projectKeyOrId}/notificationscheme",
        200,
        lambda c, d: c.get("project/ALPHA/notificationscheme"),
    ),
    ("GET issuesecurityschemes", 200, lambda c, d: c.get("issuesecurityschemes")),
    ("GET issuesecurityschemes/{id}", 200, lambda c, d: c.get("issuesecurityschemes/10000")),
    (
        "GET project/{projectKeyOrId}/issuesecuritylevelscheme",
        200,
        lambda c, d: c.get("project/BETA/issuesecuritylevelscheme"),
    ),
    (
        "GET project/{projectKeyOrId}/issuesecuritylevelscheme",
        404,
        lambda c, d: c.get("project/ALPHA/issuesecuritylevelscheme"),
    ),
    ("GET role", 200, lambda c, d: c.get("role")),
    (
        "POST project/{projectIdOrKey}/role/{id}",
        200,
        lambda c, d: c.post("project/ALPHA/role/10003", json={"user": [d["member"]]}),
    ),
    (
        "POST project/{projectIdOrKey}/role/{id}",
        400,
        lambda c, d: c.post("project/ALPHA/role/10003", json={"user": ["nobody"]}),
    ),
    (
        "POST project/{projectIdOrKey}/role/{id}",
        404,
        lambda c, d: c.post("project/ALPHA/role/1", json={"user": [d["member"]]}),
    ),
    # custom field contexts and options
    (
        "POST field/{fieldId}/context",
        201,
        lambda c, d: c.post(
            "field/customfield_10020/context",
            json={
                "name": "Bugs",
                "issueTypeIds": ["10002"],
                "projectIds": [str(d["project_ids"][0])],
            },
        ),
    ),
    (
        "POST field/{fieldId}/context",
        400,
        lambda c, d: c.post("field/customfield_10020/context", json={}),
    ),
    (
        "POST field/{fieldId}/context",
        404,
        lambda c, d: c.post("field/customfield_99/context", json={"name": "x"}),
    ),
    (
        "GET field/{fieldId}/context/issuetypemapping",
        200,
        lambda c, d: c.get("field/customfield_10020/context/issuetypemapping"),
    ),
    (
        "GET field/{fieldId}/context/projectmapping",
        200,
        lambda c, d: c.get("field/customfield_10020/context/projectmapping"),
    ),
    (
        "GET field/{fieldId}/context/projectmapping",
        404,
        lambda c, d: c.get("field/customfield_99/context/projectmapping"),
    ),
    (
        "POST field/{fieldId}/context/{contextId}/option",
        200,
        lambda c, d: c.post(
            "field/customfield_10020/context/10200/option",
            json={"options": [{"value": "Platinum"}]},
        ),
    ),
    (
        "POST field/{fieldId}/context/{contextId}/option",
        400,
        lambda c, d: c.post(
            "field/customfield_10020/context/10200/option", json={"options": [{"value": "Gold"}]}
        ),
    ),
    (
        "POST field/{fieldId}/context/{contextId}/option",
        404,
        lambda c, d: c.post(
            "field/customfield_10020/context/1/option", json={"options": [{"value": "x"}]}
        ),
    ),
    (
        "PUT field/{fieldId}/context/{contextId}/option",
        200,
        lambda c, d: c.put(
            "field/customfield_10020/context/10200/option",
            json={"options": [{"id": "10100", "value": "Golden"}]},
        ),
    ),
    (
        "PUT field/{fieldId}/context/{contextId}/option",
        400,
        lambda c, d: c.put(
            "field/customfield_10020/context/10200/option", json={"options": [{"id": "1"}]}
        ),
    ),
    (
        "DELETE field/{fieldId}/context/{contextId}/option/{optionId}",
        204,
        lambda c, d: c.delete("field/customfield_10020/context/10200/option/10102"),
    ),
    (
        "DELETE field/{fieldId}/context/{contextId}/option/{optionId}",
        404,
        lambda c, d: c.delete("field/customfield_10020/context/10200/option/1"),
    ),
    # versions and components
    ("GET version/{id}", 200, lambda c, d: c.get(f"version/{d['version_id']}")),
    ("GET version/{id}", 404, lambda c, d: c.get("version/1")),
    (
        "PUT version/{id}",
        200,
        lambda c, d: c.put(
            f"version/{d['version_id']}", json={"released": True, "releaseDate": "2025-06-01"}
        ),
    ),
    (
        "PUT version/{id}",
        400,
        lambda c, d: c.put(f"version/{d['version_id']}", json={"releaseDate": "June"}),
    ),
    ("PUT version/{id}", 404, lambda c, d: c.put("version/1", json={"released": True})),
    ("GET component/{id}", 200, lambda c, d: c.get(f"component/{d['component_id']}")),
    ("GET component/{id}", 404, lambda c, d: c.get("component/1")),
    (
        "PUT component/{id}",
        200,
        lambda c, d: c.put(f"component/{d['component_id']}", json={"description": "changed"}),
    ),
    (
        "PUT component/{id}",
        400,
        lambda c, d: c.put(f"component/{d['component_id']}", json={"name": ""}),
    ),
    ("PUT component/{id}", 404, lambda c, d: c.put("component/1", json={"description": "x"})),
    # filters and dashboards
    (
        "GET filter/search",
        200,
        lambda c, d: c.get(
            "filter/search",
            params={
                "expand": "description,owner,jql,sharePermissions,editPermissions,viewUrl,searchUrl,favourite,favouritedCount,subscriptions"
            },
        ),
    ),
    ("GET filter/{id}", 200, lambda c, d: c.get(f"filter/{d['filter_id']}")),
    ("GET filter/{id}", 400, lambda c, d: c.get("filter/1")),
    (
        "POST filter",
        200,
        lambda c, d: c.post(
            "filter",
            json={
                "name": "Restored",
                "jql": "project = ALPHA",
                "sharePermissions": [
                    {"type": "project", "project": {"id": str(d["project_ids"][0])}}
                ],
            },
        ),
    ),
    ("POST filter", 400, lambda c, d: c.post("filter", json={"jql": "project = ALPHA"})),
    (
        "PUT filter/{id}",
        200,
        lambda c, d: c.put(f"filter/{d['filter_id']}", json={"description": "changed"}),
    ),
    ("PUT filter/{id}", 400, lambda c, d: c.put(f"filter/{d['filter_id']}", json={"name": ""})),
    ("DELETE filter/{id}", 204, lambda c, d: c.delete(f"filter/{d['filter_id']}")),
    ("DELETE filter/{id}", 400, lambda c, d: c.delete("filter/1")),
    ("GET dashboard", 200, lambda c, d: c.get("dashboard")),
    ("GET dashboard/search", 200, lambda c, d: c.get("dashboard/search")),
    ("GET dashboard/{id}", 200, lambda c, d: c.get(f"dashboard/{d['dashboard_id']}")),
    ("GET dashboard/{id}", 404, lambda c, d: c.get("dashboard/1")),
    (
        "POST dashboard",
        200,
        lambda c, d: c.post(
            "dashboard",
            json={
                "name": "Restored",
                "sharePermissions": [{"type": "global"}],
                "editPermissions": [],
            },
        ),
    ),
    ("POST dashboard", 400, lambda c, d: c.post("dashboard", json={"sharePermissions": []})),
    (
        "GET dashboard/{dashboardId}/gadget",
        200,
        lambda c, d: c.get(f"dashboard/{d['dashboard_id']}/gadget"),
    ),
    ("GET dashboard/{dashboardId}/gadget", 404, lambda c, d: c.get("dashboard/1/gadget")),
    (
        "POST dashboard/{dashboardId}/gadget",
        200,
        lambda c, d: c.post(
            f"dashboard/{d['dashboard_id']}/gadget",
            json={
                "moduleKey": "com.atlassian.jira.gadgets:pie-chart",
                "title": "Pie",
                "color": "red",
                "position": {"row": 2, "column": 1},
            },
        ),
    ),
    (
        "POST dashboard/{dashboardId}/gadget",
        400,
        lambda c, d: c.post(f"dashboard/{d['dashboard_id']}/gadget", json={"title": "nothing"}),
    ),
    (
        "POST dashboard/{dashboardId}/gadget",
        404,
        lambda c, d: c.post("dashboard/1/gadget", json={"moduleKey": "x"}),
    ),
]


AGILE: list[tuple[str, int, Call]] = [
    ("GET board", 200, lambda c, d: c.agile_get("board", params={"projectKeyOrId": "ALPHA"})),
    ("GET board", 400, lambda c, d: c.agile_get("board", params={"projectKeyOrId": "NOPE"})),
    ("GET board/{boardId}", 200, lambda c, d: c.agile_get(f"board/{d['board']}")),
    ("GET board/{boardId}", 404, lambda c, d: c.agile_get("board/99")),
    (
        "GET board/{boardId}/configuration",
        200,
        lambda c, d: c.agile_get(f"board/{d['board']}/configuration"),
    ),
    ("GET board/{boardId}/configuration", 404, lambda c, d: c.agile_get("board/99/configuration")),
    (
        "GET board/{boardId}/sprint",
        200,
        lambda c, d: c.agile_get(f"board/{d['board']}/sprint", params={"state": "active,closed"}),
    ),
    (
        "GET board/{boardId}/sprint",
        400,
        lambda c, d: c.agile_get(f"board/{d['board']}/sprint", params={"state": "running"}),
    ),
    ("GET board/{boardId}/sprint", 404, lambda c, d: c.agile_get("board/99/sprint")),
    ("GET board/{boardId}/issue", 200, lambda c, d: c.agile_get(f"board/{d['board']}/issue")),
    ("GET board/{boardId}/backlog", 200, lambda c, d: c.agile_get(f"board/{d['board']}/backlog")),
    ("GET board/{boardId}/backlog", 404, lambda c, d: c.agile_get("board/99/backlog")),
    ("GET board/{boardId}/epic", 200, lambda c, d: c.agile_get(f"board/{d['board']}/epic")),
    ("GET epic/{epicIdOrKey}", 200, lambda c, d: c.agile_get(f"epic/{d['epic']}")),
    ("GET epic/{epicIdOrKey}", 404, lambda c, d: c.agile_get(f"epic/{d['todo']}")),
    ("GET epic/{epicIdOrKey}/issue", 200, lambda c, d: c.agile_get(f"epic/{d['epic']}/issue")),
    (
        "POST sprint",
        201,
        lambda c, d: c.agile_post(
            "sprint",
            json={
                "name": "Restored sprint",
                "originBoardId": d["board"],
                "goal": "Back",
                "startDate": "2025-01-01T09:00:00.000Z",
                "endDate": "2025-01-15T09:00:00.000Z",
            },
        ),
    ),
    ("POST sprint", 400, lambda c, d: c.agile_post("sprint", json={"name": "No board"})),
    ("GET sprint/{sprintId}", 200, lambda c, d: c.agile_get(f"sprint/{d['closed_sprint']}")),
    ("GET sprint/{sprintId}", 404, lambda c, d: c.agile_get("sprint/999")),
    (
        "POST sprint/{sprintId}",
        200,
        lambda c, d: c.agile_post(f"sprint/{d['active_sprint']}", json={"state": "closed"}),
    ),
    (
        "POST sprint/{sprintId}",
        400,
        lambda c, d: c.agile_post(f"sprint/{d['closed_sprint']}", json={"name": "renamed"}),
    ),
    ("POST sprint/{sprintId}", 404, lambda c, d: c.agile_post("sprint/999", json={"name": "x"})),
    (
        "PUT sprint/{sprintId}",
        200,
        lambda c, d: c.agile_put(
            f"sprint/{d['future_sprint']}",
            json={
                "name": "Renamed",
                "state": "future",
                "goal": "New goal",
                "startDate": "2026-01-08T09:00:00.000Z",
                "endDate": "2026-01-22T09:00:00.000Z",
            },
        ),
    ),
    (
        "GET sprint/{sprintId}/issue",
        200,
        lambda c, d: c.agile_get(f"sprint/{d['closed_sprint']}/issue"),
    ),
    ("GET sprint/{sprintId}/issue", 404, lambda c, d: c.agile_get("sprint/999/issue")),
    (
        "POST sprint/{sprintId}/issue",
        204,
        lambda c, d: c.agile_post(
            f"sprint/{d['future_sprint']}/issue",
            json={"issues": [d["todo"]], "rankBeforeIssue": d["other"]},
        ),
    ),
    (
        "POST sprint/{sprintId}/issue",
        400,
        lambda c, d: c.agile_post(
            f"sprint/{d['closed_sprint']}/issue", json={"issues": [d["todo"]]}
        ),
    ),
    (
        "POST backlog/issue",
        204,
        lambda c, d: c.agile_post("backlog/issue", json={"issues": [d["todo"]]}),
    ),
    ("POST backlog/issue", 400, lambda c, d: c.agile_post("backlog/issue", json={"issues": []})),
    (
        "PUT issue/rank",
        204,
        lambda c, d: c.agile_put(
            "issue/rank", json={"issues": [d["todo"]], "rankAfterIssue": d["other"]}
        ),
    ),
    ("PUT issue/rank", 400, lambda c, d: c.agile_put("issue/rank", json={"issues": [d["todo"]]})),
]
