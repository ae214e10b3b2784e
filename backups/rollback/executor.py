"""The roll-back engine: a roll-back job's units for the common job driver
(``backups.jobs.driver``: lease, fair share of points, settlement, the failure map).

``plan``   one page of the scope (100 issues) read as Jira shows them now, each compared with
           its snapshot record (``diff.issue_diff``); an issue that differs gets a
           ``RollbackItem`` with its diff; the page token is the checkpoint. A dry run stops
           here: nothing is written to Jira.
``write``  25 issues at a time: every row is marked ``writing`` before the first request;
           per issue one ``PUT issue`` with only the changed fields, the transitions to the
           snapshot's status (the shortest path through the site's workflow,
           ``backups.restore.workflow``), then the parts it lost — attachments (bytes from
           the snapshot, checked against their SHA-256), comments and worklogs ("Originally by
           NAME on DATE"), remote links, links — and, when asked, the deletion of parts added
           since. The issues' writes are interleaved and spaced under the per-issue write
           limits (``IssueWritePacer``). A row found ``writing`` (the worker died) is read
           again and only what still differs is written, so nothing is written twice.

``crash_hook`` lets tests interrupt a run between two writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cached_property
from typing import Any

from django.db import transaction
from django.db.models import F

from atlassian.exceptions import ApiBadRequest, ApiForbidden, ApiNotFound
from atlassian.ratelimit import INTERACTIVE
from backups import conf
from backups.engine.source import client_for_site
from backups.exceptions import LeaseLost, SnapshotDamaged, StatusUnreachable
from backups.jobs import leases
from backups.jobs.driver import SliceOutcome, Unit, run_slice
from backups.jobs.leases import Lease
from backups.restore import integrity, provenance
from backups.restore import mapping as maps
from backups.restore.pacing import IssueWritePacer, interleave
from backups.restore.workflow import TargetWorkflows
from backups.rollback import diff as diffs
from backups.rollback import reading, values
from backups.rollback.models import RollbackItem, RollbackJob
from backups.snapshots.reader import SnapshotReader
from tenants.audit import record_event

logger = logging.getLogger(__name__)

GROUP = 25
PLAN_ESTIMATE = 110
WRITE_ESTIMATE = 3 * GROUP
MAX_JOB_ERRORS = 200
REFUSED = (ApiBadRequest, ApiNotFound, ApiForbidden)


# Tests set this to interrupt a run at a named point (raise a BaseException to "kill" it).
crash_hook: Callable[[str], None] | None = None


def run_rollback(job_id: int, *, slice_seconds: float | None = None) -> SliceOutcome:
    """Run one slice of the roll-back job (see ``backups.jobs.driver``)."""
    return run_slice(RollbackJob, job_id, RollbackEngine, slice_seconds=slice_seconds)


class RollbackEngine:
    """The roll-back job's units for the driver: plan pages, then groups of issues to write."""

    def __init__(self, job_id: int, lease: Lease) -> None:
        self.job = RollbackJob.objects.select_related("snapshot__site", "site__tenant").get(
            pk=job_id
        )
        self.lease = lease
        self.site = self.job.site
        self.client: Any = None
        self.runner: Runner | None = None

    def open(self) -> None:
        # A roll-back is work a person started and waits for: it may use the interactive reserve.
        self.client = client_for_site(self.site, priority=INTERACTIVE)
        self.runner = Runner(self.job, self.lease, self.client)

    def next_unit(self) -> Unit | None:
        checkpoint = self.job.checkpoint or {}
        if not checkpoint.get("planned"):
            return Unit("planning", PLAN_ESTIMATE, "plan")
        if self.job.dry_run or not self.runner.has_work():
            return None
        return Unit("writing", WRITE_ESTIMATE, "write")

    def run(self, unit: Unit) -> Any:
        return getattr(self.runner, unit.work)()

    def commit(self, unit: Unit, result: Any, points: int) -> None:
        self.runner.commit(points)

    def finalize(self) -> None:
        self.runner.finalize()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


class Runner:
    def __init__(self, job: RollbackJob, lease: Lease, client: Any) -> None:
        self.job = job
        self.lease = lease
        self.client = client
        self.checkpoint = dict(job.checkpoint or {})
        self.counters = dict(job.counters or {})
        self.errors = list(job.errors or [])
        self.pacer = IssueWritePacer()
        self._dirty = False

    # -- bookkeeping ----------------------------------------------------------------------------

    def commit(self, points: int) -> None:
        fields: dict[str, Any] = {"points_spent": F("points_spent") + points}
        if self._dirty:
            fields.update(
                checkpoint=self.checkpoint,
                counters=self.counters,
                errors=self.errors[-MAX_JOB_ERRORS:],
            )
            self.job.checkpoint, self.job.counters = self.checkpoint, self.counters
            self._dirty = False
        self.lease.update(**fields)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = int(self.counters.get(name, 0)) + n
        self._dirty = True

    def error(self, kind: str, issue: str, message: str) -> None:
        self.errors.append({"kind": kind, "issue": issue, "error": str(message)[:300]})
        self._dirty = True

    @cached_property
    def reader(self) -> SnapshotReader:
        return SnapshotReader.open(self.job.snapshot.site.cloud_id, str(self.job.snapshot_id))

    @cached_property
    def records(self) -> dict[str, dict[str, Any]]:
        """The snapshot's issues by id (the scope's projects only, when it names some)."""
        projects: set[str] | None = None
        if self.job.project_keys:
            wanted = {k.upper() for k in self.job.project_keys}
            projects = {
                str(p["id"])
                for p in self.reader.records("projects")
                if str(p.get("key", "")).upper() in wanted
            }
        return {
            str(r["id"]): r
            for r in self.reader.records("issues")
            if projects is None or str(r.get("projectId")) in projects
        }

    def _fields_meta(self) -> tuple[dict[str, str], dict[str, str]]:
        meta = self.checkpoint.get("fields")
        if meta is None:
            fields = self.client.fields()
            meta = {"kinds": values.field_kinds(fields), "names": values.field_names(fields)}
            self.checkpoint["fields"] = meta
            self._dirty = True
        return meta["kinds"], meta["names"]

    # -- plan -----------------------------------------------------------------------------------

    def _scope_ids(self) -> list[str]:
        wanted = {k.upper() for k in self.job.issue_keys or []}
        found = sorted(
            int(r["id"]) for r in self.records.values() if str(r.get("key", "")).upper() in wanted
        )
        return [str(i) for i in found]

    def plan(self) -> bool:
        job = self.job
        kinds, names = self._fields_meta()
        ids = self._scope_ids() if job.scope == RollbackJob.Scope.ISSUES else []
        page = reading.read_page(self.client, job, self.checkpoint.get("page_token"), ids)
        if job.scope == RollbackJob.Scope.CHANGED:
            reading.complete_changelogs(self.client, page.issues, job.changed_from)
            window = reading.Window(job.changed_from, job.changed_to, job.changed_by)
        if page.missing:
            missing = {str(self.records[i].get("key")) for i in page.missing if i in self.records}
            self.count("deleted_since", len(missing))
            for key in sorted(missing):
                self.error("issue", key, "deleted since the snapshot: bring it back with a restore")
        rows = []
        for issue in page.issues:
            record = self.records.get(str(issue["id"]))
            if record is None:
                self.count("created_since")
                continue
            considered: list[str] | None = None
            kept: list[str] = []
            if job.scope == RollbackJob.Scope.CHANGED:
                touched, considered, kept = window.classify(issue)
                if not touched:
                    continue
            self.count("issues_in_scope")
            change = self._diff(issue, record, considered, kinds, names)
            if kept:
                change["kept"] = [
                    {"field": f, "name": names.get(f, f), "why": "changed again after the window"}
                    for f in kept
                ]
            if diffs.is_empty(change):
                self.count("issues_same")
                continue
            rows.append(
                RollbackItem(
                    job=job,
                    issue_id=str(issue["id"]),
                    issue_key=issue["key"],
                    considered=considered if considered is not None else [],
                    diff=change,
                )
            )
        with transaction.atomic():
            RollbackItem.objects.bulk_create(rows, ignore_conflicts=True)
        self.count("issues_to_write", 0)
        self.checkpoint["page_token"] = page.next_token
        if page.next_token is None:
            self.checkpoint["planned"] = True
            self._finish_planning()
        self._dirty = True
        return True

    def _finish_planning(self) -> None:
        job = self.job
        items = RollbackItem.objects.filter(job=job)
        self.counters["issues_to_write"] = items.count()
        if job.scope == RollbackJob.Scope.PROJECTS:
            seen = set(items.values_list("issue_id", flat=True))
            # Issues the snapshot holds that the scope's search no longer found.
            gone = len(self.records) - len(seen) - int(self.counters.get("issues_same", 0))
            if gone > 0:
                self.counters["deleted_since"] = gone

    def _diff(
        self,
        issue: dict[str, Any],
        record: dict[str, Any],
        considered: list[str] | None,
        kinds: dict[str, str],
        names: dict[str, str],
    ) -> dict[str, Any]:
        parts = reading.current_parts(
            self.client, issue, record, remove_added=self.job.remove_added
        )
        change = diffs.issue_diff(
            record,
            issue,
            kinds=kinds,
            names=names,
            considered=considered,
            parts=parts,
            remove_added=self.job.remove_added,
        )
        if change["status"]:
            fields = issue.get("fields") or {}
            change["status"]["project_id"] = str((fields.get("project") or {}).get("id", ""))
            change["status"]["type_id"] = str((fields.get("issuetype") or {}).get("id", ""))
        return change

    # -- write ----------------------------------------------------------------------------------

    def has_work(self) -> bool:
        return RollbackItem.objects.filter(
            job=self.job, state__in=[RollbackItem.State.PLANNED, RollbackItem.State.WRITING]
        ).exists()

    @cached_property
    def in_scope(self) -> set[str]:
        return set(RollbackItem.objects.filter(job=self.job).values_list("issue_id", flat=True))

    def write(self) -> bool:
        group = list(
            RollbackItem.objects.filter(
                job=self.job,
                state__in=[RollbackItem.State.PLANNED, RollbackItem.State.WRITING],
            ).order_by("id")[:GROUP]
        )
        if not group:
            return True
        kinds, names = self._fields_meta()
        for item in group:
            if item.state == RollbackItem.State.WRITING:
                self._read_again(item, kinds, names)
        with transaction.atomic():
            RollbackItem.objects.filter(pk__in=[i.pk for i in group]).update(
                state=RollbackItem.State.WRITING
            )
        queues = [(item, self._writes(item)) for item in group]
        left = {item.pk: len(writes) for item, writes in queues}
        for item, writes in queues:
            if not writes:
                self._settle_item(item)

        def run_one(index: int, entry: tuple[str, Callable[[], Any]]) -> None:
            item, (kind, write) = queues[index][0], entry
            try:
                write()
                item.written[kind] = item.written.get(kind, 0) + 1
            except (*REFUSED, SnapshotDamaged, StatusUnreachable) as exc:
                item.error = f"{kind}: {exc}"[:500]
                self.error(kind, item.issue_key, str(exc))
            if crash_hook is not None:
                crash_hook(f"write:{kind}")
            left[item.pk] -= 1
            if not left[item.pk]:
                self._settle_item(item)

        interleave(
            self.pacer,
            [(item.issue_key, writes) for item, writes in queues],
            run_one,
            self.lease.heartbeat,
        )
        return True

    def _read_again(self, item: RollbackItem, kinds: dict[str, str], names: dict[str, str]) -> None:
        """A row left ``writing`` by an interrupted run: what still differs, read now."""
        record = self.records.get(item.issue_id)
        try:
            issue = self.client.get_issue(item.issue_id, fields=("*all",))
        except ApiNotFound:
            item.diff = {"fields": [], "put": {}, "status": None, "add": {}}
            item.error = "the issue was deleted during the roll-back"
            return
        considered = item.considered if self.job.scope == RollbackJob.Scope.CHANGED else None
        kept = item.diff.get("kept")
        item.diff = self._diff(issue, record, considered, kinds, names)
        if kept:
            item.diff["kept"] = kept
        RollbackItem.objects.filter(pk=item.pk).update(diff=item.diff)

    def _settle_item(self, item: RollbackItem) -> None:
        state = RollbackItem.State.FAILED if item.error else RollbackItem.State.DONE
        RollbackItem.objects.filter(pk=item.pk).update(
            state=state, written=item.written, error=item.error
        )

    def _writes(self, item: RollbackItem) -> list[tuple[str, Callable[[], Any]]]:
        """The issue's writes, in order: the fields, the status, the parts it lost (attachments
        first), then the removal of parts added since (when asked)."""
        c, key, change = self.client, item.issue_key, item.diff
        record = self.records.get(item.issue_id) or {}
        writes: list[tuple[str, Callable[[], Any]]] = []
        put = change.get("put") or {}
        if put:
            writes.append(
                (
                    "fields",
                    lambda: c.edit_issue(key, fields=put.get("fields"), update=put.get("update")),
                )
            )
        if change.get("status"):
            writes.extend(self._status_writes(item, change["status"]))
        add = change.get("add") or {}
        by_id = {
            kind: {str(x.get("id")): x for x in record.get(source) or []}
            for kind, source in (
                ("attachments", "attachments"),
                ("comments", "comments"),
                ("worklogs", "worklogs"),
                ("remote_links", "remoteLinks"),
            )
        }
        for att_id in add.get("attachments") or []:
            att = by_id["attachments"].get(att_id)
            if att is not None:
                writes.append(("attachments", lambda att=att: self._attach(key, att)))
        for comment_id in add.get("comments") or []:
            comment = by_id["comments"].get(comment_id)
            if comment is not None:
                writes.append(("comments", lambda x=comment: c.add_comment(key, _comment(x))))
        for comment_id in add.get("edit_comments") or []:
            comment = by_id["comments"].get(comment_id)
            if comment is not None:
                writes.append(
                    (
                        "comments_edited",
                        lambda x=comment: c.update_comment(key, x["id"], x.get("body")),
                    )
                )
        for worklog_id in add.get("worklogs") or []:
            worklog = by_id["worklogs"].get(worklog_id)
            if worklog is not None:
                writes.append(("worklogs", lambda x=worklog: c.add_worklog(key, _worklog(x))))
        for link_id in add.get("remote_links") or []:
            link = by_id["remote_links"].get(link_id)
            if link is not None:
                payload = {
                    k: link[k]
                    for k in ("globalId", "application", "relationship", "object")
                    if k in link
                }
                writes.append(("remote_links", lambda p=payload: c.add_remote_link(key, p)))
        links = {str(x.get("id")): x for x in (record.get("fields") or {}).get("issuelinks") or []}
        for link_id in add.get("links") or []:
            link = links.get(link_id)
            if link is None:
                continue
            other = link.get("outwardIssue") or link.get("inwardIssue") or {}
            other_id = str(other.get("id"))
            if other_id in self.in_scope and int(other_id) < int(item.issue_id):
                continue  # the other end's roll-back writes it (one link, never two)
            writes.append(("links", lambda x=link: c.create_issue_link(_link(record, x))))
        writes.extend(self._removals(key, change.get("remove") or {}))
        return writes

    def _removals(self, key: str, remove: dict[str, list[str]]) -> list:
        """Deletions of parts added since the snapshot (asked for); one already gone (the
        other end of a link removed it) counts as done."""
        c = self.client
        deletes: dict[str, Callable[[str], Any]] = {
            "comments": lambda x: c.delete_comment(key, x),
            "worklogs": lambda x: c.delete_worklog(key, x),
            "attachments": lambda x: c.delete_attachment(x, issue=key),
            "remote_links": lambda x: c.delete_remote_link(key, x),
            "links": lambda x: c.delete_issue_link(x, issue=key),
        }

        def removal(delete: Callable[[str], Any], part_id: str) -> Callable[[], None]:
            def run() -> None:
                try:
                    delete(part_id)
                except ApiNotFound:
                    pass

            return run

        return [
            (f"{kind}_removed", removal(delete, part_id))
            for kind, delete in deletes.items()
            for part_id in remove.get(kind) or []
        ]

    def _attach(self, key: str, att: dict[str, Any]) -> Any:
        data = integrity.read_verified(
            self.reader.objects, att["sha256"], issue=key, filename=att.get("filename") or ""
        )
        return self.client.add_attachment(
            key,
            att.get("filename") or "attachment",
            data,
            content_type=att.get("mimeType") or "application/octet-stream",
        )

    # -- statuses -------------------------------------------------------------------------------

    def _workflows(self) -> TargetWorkflows:
        stored = self.checkpoint.get("workflow")
        if stored is None:
            projects = sorted(
                {
                    str((i.diff.get("status") or {}).get("project_id"))
                    for i in RollbackItem.objects.filter(job=self.job).only("diff")
                    if i.diff.get("status")
                }
            )
            stored = TargetWorkflows.read(self.client, projects).as_json()
            self.checkpoint["workflow"] = stored
            self._dirty = True
        return TargetWorkflows.from_json(stored)

    def _status_writes(self, item: RollbackItem, status: dict[str, Any]) -> list:
        """The transitions from the status the issue is in to the snapshot's (the shortest
        path through its workflow; restore's walk). Without a site admin the workflows cannot
        be read: a transition available now straight to the status, if there is one.
        Unreachable: an error on the issue."""
        flows = self._workflows()
        resolution, _note = flows.resolution(status.get("resolution"))
        if not flows.readable:
            return [("status", lambda: self._direct_transition(item, status, resolution))]
        path, reason = flows.path(
            status["project_id"], status["type_id"], status["snapshot"], start=status["now_id"]
        )
        if path is None:
            item.error = f"status: {reason}"[:500]
            self.error("status", item.issue_key, f"{reason}; left in '{status['now']}'")
            return []
        return [
            (
                "status",
                lambda step=step: self.client.transition_issue(
                    item.issue_key,
                    step.transition_id,
                    fields={"resolution": {"name": resolution}} if step.screen else None,
                ),
            )
            for step in path
        ]

    def _direct_transition(self, item: RollbackItem, status: dict[str, Any], resolution: str):
        wanted = str(status["snapshot"]).lower()
        for transition in self.client.transitions(item.issue_key):
            if str((transition.get("to") or {}).get("name", "")).lower() == wanted:
                screen = transition.get("hasScreen")
                self.client.transition_issue(
                    item.issue_key,
                    transition["id"],
                    fields={"resolution": {"name": resolution}} if screen else None,
                )
                return
        raise StatusUnreachable(
            f"no transition leads from '{status['now']}' to '{status['snapshot']}' and the "
            "site's workflows cannot be read (needs a site admin)"
        )

    # -- the end --------------------------------------------------------------------------------

    def finalize(self) -> None:
        job = self.job
        rows = list(RollbackItem.objects.filter(job=job).values("state", "written"))
        counters = dict(self.counters)
        written: dict[str, int] = {}
        for row in rows:
            for kind, n in (row["written"] or {}).items():
                written[kind] = written.get(kind, 0) + int(n)
        counters["written"] = written
        counters["issues_done"] = sum(1 for r in rows if r["state"] == RollbackItem.State.DONE)
        counters["issues_failed"] = sum(1 for r in rows if r["state"] == RollbackItem.State.FAILED)
        if job.dry_run:
            status = RollbackJob.Status.SUCCEEDED
            reason = f"dry run: {len(rows)} issue(s) differ from the snapshot; nothing was written"
        else:
            status = (
                RollbackJob.Status.PARTIAL
                if counters["issues_failed"] or self.errors
                else RollbackJob.Status.SUCCEEDED
            )
            reason = (
                f"{counters['issues_done']} issue(s) rolled back, {counters['issues_failed']} "
                f"failed, {counters.get('issues_same', 0)} already as in the snapshot; "
                f"{len(self.errors)} problem(s) reported"
            )
        with transaction.atomic():
            if not leases.finish(
                self.lease,
                status=status,
                reason=reason,
                counters=counters,
                checkpoint=self.checkpoint,
                errors=self.errors[-MAX_JOB_ERRORS:],
            ):
                raise LeaseLost(f"roll-back job {job.pk} lost its lease before finishing")
            if not job.dry_run:
                record_event(
                    actor=None,
                    action="rollback.job_finished",
                    target=job,
                    tenant=job.site.tenant,
                    summary={"status": status, **{k: v for k, v in counters.items() if v}},
                )


# -- payloads ---------------------------------------------------------------------------------


def _comment(comment: dict[str, Any]) -> dict[str, Any]:
    body = comment.get("body")
    if conf.restore_provenance():
        text = provenance.provenance_text(comment.get("author"), comment.get("created"))
        body = provenance.with_provenance(body, text)
    return maps.comment_payload(comment, body)


def _worklog(worklog: dict[str, Any]) -> dict[str, Any]:
    comment = worklog.get("comment")
    if conf.restore_provenance():
        text = provenance.provenance_text(worklog.get("author"), worklog.get("started"))
        comment = provenance.with_provenance(comment, text)
    return maps.worklog_payload(worklog, comment)


def _link(record: dict[str, Any], link: dict[str, Any]) -> dict[str, Any]:
    """Jira's reversed request format: ``inwardIssue`` A, ``outwardIssue`` B is "A blocks B"."""
    this = {"id": str(record["id"])}
    if "outwardIssue" in link:
        inward, outward = this, {"id": str(link["outwardIssue"]["id"])}
    else:
        inward, outward = {"id": str(link["inwardIssue"]["id"])}, this
    return {
        "type": {"name": (link.get("type") or {}).get("name")},
        "inwardIssue": inward,
        "outwardIssue": outward,
    }
