"""Statuses through the target's workflows: Jira sets an issue's status only by transitions, so
a restored issue (created in its workflow's initial status) is walked along the shortest path
to the status it had, with a resolution where a transition's screen requires one.

``TargetWorkflows`` is read once per job (workflows with their transitions, the scheme of each
target project, statuses and resolutions) and kept as JSON on the job's mapping; the planner
uses the same functions on a dry run. Statuses match by name (ids differ between sites).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from atlassian.exceptions import ApiForbidden, ApiNotFound


@dataclass
class Step:
    transition_id: str
    name: str
    to: str
    screen: bool


@dataclass
class TargetWorkflows:
    """The target's workflows as plain data (JSON on the job)."""

    readable: bool = True
    # status name (lower) -> status id
    statuses: dict[str, str] = field(default_factory=dict)
    # workflow name -> {"initial": status id, "transitions": [[id, name, to, [sources], screen]]}
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    # target project id -> {"default": workflow name, "mappings": {issue type id: name}}
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    # scheme name (lower) -> {"default": workflow name, "mappings": {issue type id: name}}
    schemes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # resolution name (lower) -> name
    resolutions: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "readable": self.readable,
            "statuses": self.statuses,
            "workflows": self.workflows,
            "projects": self.projects,
            "schemes": self.schemes,
            "resolutions": self.resolutions,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TargetWorkflows:
        return cls(**data)

    # -- reading the target ------------------------------------------------------------------

    @classmethod
    def read(cls, client: Any, project_ids: list[str]) -> TargetWorkflows:
        """Workflows and schemes need a site admin: without them, ``readable`` is False."""
        out = cls(
            statuses={str(s["name"]).lower(): str(s["id"]) for s in client.statuses()},
            resolutions={str(r["name"]).lower(): str(r["name"]) for r in client.resolutions()},
        )
        try:
            for wf in client.workflows():
                out.workflows[wf["name"]] = workflow_graph(wf)
            out.schemes = {
                str(s.get("name", "")).lower(): {
                    "default": s.get("defaultWorkflow"),
                    "mappings": dict(s.get("issueTypeMappings") or {}),
                }
                for s in client.workflow_schemes()
            }
            out.add_projects(client, project_ids)
        except (ApiForbidden, ApiNotFound):
            out.readable = False
        return out

    def add_projects(self, client: Any, project_ids: list[str]) -> None:
        ids = [p for p in project_ids if p not in self.projects]
        for start in range(0, len(ids), 100):
            for entry in client.workflow_scheme_projects(ids[start : start + 100]):
                scheme = entry.get("workflowScheme") or {}
                for pid in entry.get("projectIds") or []:
                    self.projects[str(pid)] = {
                        "default": scheme.get("defaultWorkflow"),
                        "mappings": dict(scheme.get("issueTypeMappings") or {}),
                    }

    def assume_scheme(self, project_id: str, scheme_name: str | None) -> bool:
        """A project the restore will create gets the scheme of this name (if the target has
        it): plan with it. False when the target has no such scheme."""
        scheme = self.schemes.get(str(scheme_name or "").lower())
        if scheme is None:
            return False
        self.projects[project_id] = dict(scheme)
        return True

    # -- planning ------------------------------------------------------------------------------

    def workflow_for(self, project_id: str, type_id: str) -> dict[str, Any] | None:
        scheme = self.projects.get(str(project_id))
        if scheme is None:
            return None
        name = scheme["mappings"].get(str(type_id), scheme["default"])
        return self.workflows.get(name)

    def path(
        self, project_id: str, type_id: str, status_name: str, *, start: str | None = None
    ) -> tuple[list[Step] | None, str]:
        """The transitions from ``start`` (default: the workflow's initial status) to the status
        named ``status_name``; ``(None, reason)`` when it cannot be reached."""
        workflow = self.workflow_for(project_id, type_id)
        if workflow is None:
            return None, "the target project's workflow is unknown"
        goal = self.statuses.get(str(status_name).lower())
        if goal is None:
            return None, f"status '{status_name}' does not exist in the target"
        found = shortest_path(workflow, start or workflow["initial"], goal)
        if found is None:
            return None, f"status '{status_name}' not reachable in the target workflow"
        return found, ""

    def resolution(self, name: str | None) -> tuple[str, str]:
        """(the target resolution to send, a note when it is not the source's)."""
        if name and name.lower() in self.resolutions:
            return self.resolutions[name.lower()], ""
        fallback = self.resolutions.get("done") or next(iter(self.resolutions.values()), "Done")
        if name:
            return fallback, f"resolution '{name}' missing in the target: set to '{fallback}'"
        return fallback, ""


def workflow_graph(workflow: dict[str, Any]) -> dict[str, Any]:
    """Jira's ``workflows/search`` shape -> ``{"initial", "transitions"}``."""
    initial = ""
    transitions = []
    for t in workflow.get("transitions") or []:
        if t.get("type") == "INITIAL":
            initial = str(t.get("toStatusReference") or "")
            continue
        sources = [str(link["fromStatusReference"]) for link in t.get("links") or []]
        screen = bool(t.get("transitionScreen"))
        transitions.append(
            [str(t["id"]), t.get("name", ""), str(t["toStatusReference"]), sources, screen]
        )
    if not initial:
        statuses = workflow.get("statuses") or []
        initial = str(statuses[0]["statusReference"]) if statuses else ""
    return {"initial": initial, "transitions": transitions}


def shortest_path(workflow: dict[str, Any], start: str, goal: str) -> list[Step] | None:
    """Breadth-first: the fewest transitions from ``start`` to ``goal`` (a global transition,
    without sources, is available from every other status)."""
    if start == goal:
        return []
    paths: dict[str, list[Step]] = {start: []}
    queue = deque([start])
    while queue:
        status = queue.popleft()
        for tid, name, to, sources, screen in workflow["transitions"]:
            if to == status or (sources and status not in sources) or to in paths:
                continue
            paths[to] = paths[status] + [Step(tid, name, to, screen)]
            if to == goal:
                return paths[to]
            queue.append(to)
    return None
