"""The restore phases that bring back the state issues were in, after they exist with their
parts and links (issue 18):

``recheck``  before trusting the id map, check in bulk that the target issues it names still
             exist; a deleted one is forgotten (with its links) and restored again;
``statuses`` each created issue walked along the shortest path of the target's workflow to
             its status, with its resolution where a screen requires one; an unreachable
             status is reported per issue;
``sprints``  sprints re-created by name on a board of the target project, issues moved in, then
             started and closed as they were (in the order they ran: one active per board);
``rank``     the restored issues ordered as in the source (runs of new issues ranked after the
             issue before them, 50 per request).

Each phase records its progress in the id map (``RestoreItem.detail`` or sprint rows), so a
resumed job continues and a restore run twice writes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import transaction

from atlassian.exceptions import ApiBadRequest, ApiForbidden, ApiNotFound
from backups.restore import mapping as maps
from backups.restore.models import RestoreItem
from backups.restore.workflow import TargetWorkflows

STATUS_GROUP = 25
BULKFETCH = 100
MOVE = 50
STATE_ORDER = {"closed": 0, "active": 1, "future": 2}


class FidelityPhases:
    """Mixed into the executor (``self.client``, ``self.mapping``, ``self.source``, ...)."""

    # -- recheck: is what the id map names still there? -----------------------------------------

    def phase_recheck(self) -> bool:
        scope = set(self.records_by_id)
        rows = list(
            self.items(RestoreItem.Kind.ISSUE)
            .filter(state__in=self.DONE_STATES, source_id__in=scope)
            .exclude(target_id="")
            .values_list("pk", "source_id", "target_id")
        )
        gone: list[tuple[int, str]] = []
        for start in range(0, len(rows), BULKFETCH):
            chunk = rows[start : start + BULKFETCH]
            found = self.client.bulkfetch_issues([t for _p, _s, t in chunk], fields=("id",))
            present = {str(i["id"]) for i in found.get("issues") or []}
            gone.extend((pk, sid) for pk, sid, tid in chunk if tid not in present)
            self.lease.heartbeat()
        if gone:
            ids = {sid for _pk, sid in gone}
            links = [
                pk
                for pk, key in self.items(RestoreItem.Kind.LINK).values_list("pk", "source_key")
                if set(key.split("->")) & ids
            ]
            with transaction.atomic():
                RestoreItem.objects.filter(pk__in=[pk for pk, _sid in gone]).delete()
                RestoreItem.objects.filter(pk__in=links).delete()
            self.recreated = sorted(ids)
        return True

    # -- statuses ----------------------------------------------------------------------------------

    def _workflows(self) -> TargetWorkflows:
        m = self.mapping
        projects = sorted({p["id"] for p in m.projects.values()})
        if not m.workflow:
            m.workflow = TargetWorkflows.read(self.client, projects).as_json()
        flows = TargetWorkflows.from_json(m.workflow)
        if flows.readable and set(projects) - set(flows.projects):
            flows.add_projects(self.client, projects)
            m.workflow = flows.as_json()
        return flows

    def phase_statuses(self) -> bool:
        group = list(
            self.items(RestoreItem.Kind.ISSUE)
            .filter(state=RestoreItem.State.COMPLETE, source_id__in=list(self.records_by_id))
            .exclude(detail__has_key="status")
            .order_by("id")[:STATUS_GROUP]
        )
        if not group:
            return True
        flows = self._workflows()
        for item in group:
            record = self.records_by_id[item.source_id]
            outcome = self._walk(item, record, flows) if flows.readable else "unreadable"
            item.detail = {**item.detail, "status": outcome}
            RestoreItem.objects.filter(pk=item.pk).update(detail=item.detail)
            self.lease.heartbeat()
        return False

    def _walk(self, item: RestoreItem, record: dict[str, Any], flows: TargetWorkflows) -> str:
        fields = record.get("fields") or {}
        status = (fields.get("status") or {}).get("name")
        if not status:
            return "done"
        project = self.mapping.projects.get(str(record.get("projectId"))) or {}
        type_name = str((fields.get("issuetype") or {}).get("name", "")).lower()
        type_id = self.mapping.issue_types.get(type_name, "")
        start = None
        if item.detail.get("status_started"):
            # Interrupted half-way: start from where the issue is now.
            now = self.client.get_issue(item.target_key, fields=("status",))["fields"]["status"]
            start = str(now["id"])
        path, reason = flows.path(project.get("id", ""), type_id, status, start=start)
        if path is None:
            self.error("status", record["key"], f"{reason}; left in its initial status")
            return "unreachable"
        if not path:
            return "done"
        RestoreItem.objects.filter(pk=item.pk).update(
            detail={**item.detail, "status_started": True}
        )
        resolution, note = flows.resolution((fields.get("resolution") or {}).get("name"))
        for step in path:
            self.pacer.acquire(item.target_key)
            extra = {"resolution": {"name": resolution}} if step.screen else None
            try:
                self.client.transition_issue(item.target_key, step.transition_id, fields=extra)
            except (ApiBadRequest, ApiNotFound) as exc:
                self.error("status", record["key"], f"transition '{step.name}' refused: {exc}")
                return "failed"
            self.hook("statuses:transition")
        if note and any(s.screen for s in path):
            self.error("resolution", record["key"], note)
        return "done"

    # -- sprints -----------------------------------------------------------------------------------

    def _sprint_field(self) -> str | None:
        return maps.field_of_type(self.source.records("fields"), maps.SPRINT_TYPE)

    def _source_sprints(self) -> list[dict[str, Any]]:
        """Every sprint an issue in scope has been in (from the sprints shard, else from the
        issues' Sprint field), in the order they ran."""
        field_id = self._sprint_field()
        if field_id is None:
            return []
        known = {str(s["id"]): s for s in self.source.records("sprints")}
        used: dict[str, dict[str, Any]] = {}
        for record in self.source.issues:
            for sprint in (record.get("fields") or {}).get(field_id) or []:
                sid = str(sprint.get("id"))
                used.setdefault(sid, {**sprint, **known.get(sid, {})})
        return sorted(
            used.values(),
            key=lambda s: (STATE_ORDER.get(s.get("state"), 3), s.get("startDate") or "", s["id"]),
        )

    def members(self, sprint_id: str) -> Iterator[dict[str, Any]]:
        field_id = self._sprint_field()
        for record in self.source.issues:
            sprints = (record.get("fields") or {}).get(field_id) or []
            if any(str(s.get("id")) == sprint_id for s in sprints):
                yield record

    def phase_sprints(self) -> bool:
        if self.software_missing:
            if self._source_sprints():
                self.error(
                    "sprint",
                    "all",
                    "sprints not restored: the target's grant lacks Jira Software's scopes",
                    planned=True,
                )
            return True
        done = dict(self.items(RestoreItem.Kind.SPRINT).values_list("source_id", "state"))
        for sprint in self._source_sprints():
            sid = str(sprint["id"])
            if done.get(sid) in (RestoreItem.State.COMPLETE, RestoreItem.State.FAILED):
                continue
            self._restore_sprint(sprint, done.get(sid))
            return False
        return True

    def _board_for(self, record: dict[str, Any]) -> int | None:
        project = self.mapping.projects.get(str(record.get("projectId")))
        if project is None:
            return None
        boards = self.mapping.agile.setdefault("boards", {})
        if project["key"] not in boards:
            found = [b for b in self.client.boards(project_key=project["key"])]
            scrum = [b for b in found if b.get("type") == "scrum"] or found
            boards[project["key"]] = scrum[0]["id"] if scrum else None
        return boards[project["key"]]

    def _restore_sprint(self, sprint: dict[str, Any], state: str | None) -> None:
        sid, name = str(sprint["id"]), sprint.get("name") or f"Sprint {sprint['id']}"
        members = list(self.members(sid))
        targets = dict(
            self.items(RestoreItem.Kind.ISSUE)
            .filter(source_id__in=[r["id"] for r in members], state__in=self.DONE_STATES)
            .values_list("source_id", "target_key")
        )
        new = {
            pk
            for pk in self.items(RestoreItem.Kind.ISSUE)
            .filter(source_id__in=[r["id"] for r in members], job_id=self.job.pk)
            .exclude(state=RestoreItem.State.EXISTING)
            .values_list("source_id", flat=True)
        }
        if state is None and not new:
            return self._save_sprint(sid, name, RestoreItem.State.COMPLETE, skipped=True)
        anchor = next((r for r in members if r["id"] in targets), None)
        board = self._board_for(anchor) if anchor else None
        if board is None:
            self.error("sprint", name, "no board in the target project: sprint not restored")
            return self._save_sprint(sid, name, RestoreItem.State.FAILED)
        existing = self._board_sprints(board)
        target = existing.get(name)
        if target is None:
            payload = {"name": name, "originBoardId": board, "goal": sprint.get("goal") or ""}
            for key in ("startDate", "endDate"):
                if sprint.get(key):
                    payload[key] = sprint[key]
            target = self.client.create_sprint(payload)
            existing[name] = target
            self._save_sprint(sid, name, RestoreItem.State.CREATED, target=target["id"])
        wanted = sprint.get("state") or "future"
        if target.get("state") == "closed":
            if new:
                self.error(
                    "sprint",
                    name,
                    f"sprint already closed in the target: {len(new)} issue(s) not added",
                )
            return self._save_sprint(sid, name, RestoreItem.State.COMPLETE, target=target["id"])
        # Sub-tasks follow their parent (Jira refuses to move them alone).
        movable = [
            targets[r["id"]]
            for r in members
            if r["id"] in new and r["id"] in targets and maps.hierarchy_level(r) >= 0
        ]
        for start in range(0, len(movable), MOVE):
            self.client.move_to_sprint(target["id"], movable[start : start + MOVE])
            self.hook("sprints:moved")
        try:
            if wanted in ("active", "closed") and target.get("state") == "future":
                self.client.update_sprint(target["id"], {"state": "active"})
                target["state"] = "active"
            if wanted == "closed":
                self.client.update_sprint(target["id"], {"state": "closed"})
                target["state"] = "closed"
        except ApiBadRequest as exc:
            self.error("sprint", name, f"cannot be set {wanted} in the target: {exc}")
        self._save_sprint(sid, name, RestoreItem.State.COMPLETE, target=target["id"])

    def _board_sprints(self, board: int) -> dict[str, dict[str, Any]]:
        """The board's sprints by name, read once per board in this process (the sprints
        created since are added as they are): a run after a crash reads them again, so a
        sprint created just before it is found, not created twice."""
        cache = self.__dict__.setdefault("_sprints_by_board", {})
        if board not in cache:
            cache[board] = {s["name"]: s for s in self.client.board_sprints(board)}
        return cache[board]

    def _save_sprint(self, sid: str, name: str, state: str, *, target=None, skipped=False) -> None:
        fields: dict[str, Any] = {"source_key": name[:255], "state": state, "target_key": name}
        if target is not None:
            fields["target_id"] = str(target)
        if skipped:
            fields["detail"] = {"skipped": "no issue of this restore is in it"}
        self._save_item(RestoreItem.Kind.SPRINT, sid, **fields)

    # -- rank --------------------------------------------------------------------------------------

    def phase_rank(self) -> bool:
        field_id = maps.field_of_type(self.source.records("fields"), maps.RANK_TYPE)
        if field_id is None:
            return True
        ranked = sorted(
            (r for r in self.source.issues if (r.get("fields") or {}).get(field_id)),
            key=lambda r: str(r["fields"][field_id]),
        )
        if not ranked:
            return True
        if self.software_missing:
            self.error(
                "rank",
                "all",
                "rank not restored: the target's grant lacks Jira Software's scopes",
                planned=True,
            )
            return True
        rows = dict(
            (sid, (key, job, state))
            for sid, key, job, state in self.items(RestoreItem.Kind.ISSUE)
            .filter(source_id__in=[r["id"] for r in ranked], state__in=self.DONE_STATES)
            .values_list("source_id", "target_key", "job_id", "state")
        )
        order = [r["id"] for r in ranked if r["id"] in rows]
        new = {
            sid
            for sid in order
            if rows[sid][1] == self.job.pk
            and rows[sid][2] != RestoreItem.State.EXISTING
            and not self.same_site
        }
        if not new:
            return True
        for how, anchor, run in rank_runs(order, new):
            keys = [rows[s][0] for s in run]
            target = rows[anchor][0]
            for start in range(0, len(keys), MOVE):
                chunk = keys[start : start + MOVE]
                try:
                    if how == "before" and start == 0:
                        self.client.rank_issues(chunk, before=target)
                    else:
                        self.client.rank_issues(chunk, after=target)
                except (ApiBadRequest, ApiForbidden) as exc:
                    self.error("rank", chunk[0], f"rank not restored: {exc}")
                    return True
                target = chunk[-1]
                self.hook("rank:ranked")
            self.lease.heartbeat()
        return True


def rank_runs(order: list[str], new: set[str]) -> list[tuple[str, str, list[str]]]:
    """Maximal runs of new issues in ``order`` as ``(how, anchor, run)``: ranked ``after`` the
    issue before the run, or ``before`` the one after it when the run is at the top. When every
    issue is new, the first stays where it is and the others are ranked after it."""
    runs: list[tuple[str | None, list[str], str | None]] = []
    previous: str | None = None
    current: list[str] = []
    for sid in order:
        if sid in new:
            current.append(sid)
            continue
        if current:
            runs.append((previous, current, sid))
            current = []
        previous = sid
    if current:
        runs.append((previous, current, None))
    out: list[tuple[str, str, list[str]]] = []
    for before_run, run, after_run in runs:
        if before_run is not None:
            out.append(("after", before_run, run))
        elif after_run is not None:
            out.append(("before", after_run, run))
        elif len(run) > 1:
            out.append(("after", run[0], run[1:]))
    return out
