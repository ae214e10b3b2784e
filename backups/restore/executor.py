"""The restore engine: a restore job's units of work are small pieces of checkpointed phases:

``verify``   check every attachment in scope against its manifest's SHA-256 (and read the issue
             shards): damage is named before anything is written, and the job stops or skips
             it as the requester chose (``RestoreJob.on_damaged``);
``config``   read the target's fields, users, issue types, priorities and link types; map them;
``projects`` find or create projects, components and versions (``RestoreItem`` rows);
``configuration`` custom field contexts and options (so restored values are valid), release
             states, role actors, filters and dashboards; the rest as differences to apply
             by hand (``backups.config.restore``);
``issues``   create issues 50 per ``issue/bulk`` request, each carrying the issue property that
             records its source; rows are written ``pending`` before the request and
             ``created`` after it, so a crash in between is resolved by reading the target;
``parts``    comments, worklogs, remote links and attachments of created issues, paced under
             the per-issue write limits and interleaved across issues; an issue whose parts were
             started before a crash is reconciled with what the target already holds;
``links``    issue links, once both ends exist;
then the job is finished with counts computed from the id map. A dry run has one unit, the plan.

``run_restore`` runs one slice through the job driver (``backups.jobs.driver``): the lease,
fair share of points, settlement, and the failure map are the driver's, as for backups.
``crash_hook`` lets tests interrupt it between two writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cached_property
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from atlassian.exceptions import ApiBadRequest, ApiForbidden, ApiNotFound
from atlassian.ratelimit import INTERACTIVE
from backups import conf
from backups.config.restore import ConfigurationPhase
from backups.engine.source import client_for_site
from backups.exceptions import LeaseLost, NotReady, SnapshotDamaged
from backups.jobs import leases
from backups.jobs.driver import SliceOutcome, Unit, run_slice
from backups.jobs.leases import Lease
from backups.restore import integrity, provenance
from backups.restore import mapping as maps
from backups.restore.fidelity import FidelityPhases
from backups.restore.models import RestoreItem, RestoreJob
from backups.restore.pacing import IssueWritePacer, interleave
from backups.restore.planner import plan_restore
from backups.restore.source import Scope, SnapshotSource, issue_links
from tenants.audit import record_event
from tenants.scopes import site_software_scopes_missing

logger = logging.getLogger(__name__)

PHASES = (
    "verify",
    "config",
    "projects",
    "configuration",
    "recheck",
    "issues",
    "parts",
    "links",
    "statuses",
    "sprints",
    "rank",
)
ESTIMATES = {
    "verify": 0,
    "config": 20,
    "projects": 20,
    "configuration": 100,
    "recheck": 20,
    "issues": 2,
    "parts": 120,
    "links": 50,
    "statuses": 60,
    "sprints": 20,
    "rank": 20,
}
PLAN_ESTIMATE = 200
BULK = 50
PARTS_GROUP = 25
LINKS_UNIT = 50
MAX_JOB_ERRORS = 200
PART_KINDS = ("comments", "worklogs", "remote_links", "attachments", "media", "history")
MAX_DAMAGED_LISTED = 200
DONE_STATES = (RestoreItem.State.CREATED, RestoreItem.State.COMPLETE, RestoreItem.State.EXISTING)

# Tests set this to interrupt a run at a named point (raise a BaseException to "kill" it).
crash_hook: Callable[[str], None] | None = None


def _hook(point: str) -> None:
    if crash_hook is not None:
        crash_hook(point)


def run_restore(job_id: int, *, slice_seconds: float | None = None) -> SliceOutcome:
    """Run one slice of the restore job (see ``backups.jobs.driver``)."""
    return run_slice(RestoreJob, job_id, RestoreEngine, slice_seconds=slice_seconds)


class RestoreEngine:
    """The restore job's units for the driver: the phases' next pieces, or the dry run's plan."""

    def __init__(self, job_id: int, lease: Lease) -> None:
        self.job = RestoreJob.objects.select_related(
            "snapshot__site", "target_site", "target_site__tenant"
        ).get(pk=job_id)
        self.lease = lease
        self.site = self.job.target_site
        self.client: Any = None
        self.executor: Executor | None = None
        self.planned = False

    def open(self) -> None:
        job = self.job
        scope = Scope(tuple(job.project_keys or ()), tuple(job.issue_keys or ()))
        source = SnapshotSource.open(job.snapshot, scope)
        # A restore is work a person started and waits for: it may use the interactive reserve.
        self.client = client_for_site(job.target_site, priority=INTERACTIVE)
        self.source = source
        if not job.dry_run:
            self.executor = Executor(job, self.lease, self.client, source)

    def next_unit(self) -> Unit | None:
        if self.executor is None:
            return None if self.planned else Unit("planning", PLAN_ESTIMATE, "plan")
        phase = self.executor.next_phase()
        return None if phase is None else Unit(phase, ESTIMATES[phase], phase)

    def run(self, unit: Unit) -> Any:
        if self.executor is None:
            return plan_restore(job=self.job, source=self.source, client=self.client)
        return getattr(self.executor, f"phase_{unit.work}")()

    def commit(self, unit: Unit, result: Any, points: int) -> None:
        if self.executor is None:
            self.lease.update(plan=result, points_spent=F("points_spent") + points)
            self.planned = True
            return
        self.executor.commit(unit.work if result else None, points)

    def finalize(self) -> None:
        if self.executor is None:
            leases.finish(
                self.lease,
                status=RestoreJob.Status.SUCCEEDED,
                reason="dry run: nothing was written",
            )
            return
        self.executor.finalize()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


class Executor(FidelityPhases, ConfigurationPhase):
    DONE_STATES = DONE_STATES

    def __init__(self, job: RestoreJob, lease: Lease, client: Any, source: SnapshotSource) -> None:
        self.job = job
        # Jira Software scopes the target's grant lacks (sprints and rank are then reported).
        self.software_missing = site_software_scopes_missing(job.target_site)
        self.recreated: list[str] = []
        self.lease = lease
        self.client = client
        self.source = source
        self.done = list(job.done_steps or [])
        self.errors = list(job.errors or [])
        self.mapping = maps.Mapping.from_json(job.mapping) if job.mapping else None
        self.pacer = IssueWritePacer()
        self._new_errors = False
        # Attachments found damaged by the verify phase (skipped: the requester chose so).
        self.damaged = {d["sha256"] for d in (job.plan or {}).get("damaged", [])}

    @property
    def skip_damaged(self) -> bool:
        return self.job.on_damaged == RestoreJob.OnDamaged.SKIP

    # -- bookkeeping ----------------------------------------------------------------------------

    def hook(self, point: str) -> None:
        _hook(point)

    def next_phase(self) -> str | None:
        return next((p for p in PHASES if p not in self.done), None)

    def commit(self, finished_phase: str | None, points: int) -> None:
        fields: dict[str, Any] = {"points_spent": F("points_spent") + points}
        if finished_phase:
            self.done.append(finished_phase)
            fields["done_steps"] = self.done
        if self.mapping is not None:
            fields["mapping"] = self.mapping.as_json()
        if self._new_errors:
            fields["errors"] = self.errors[-MAX_JOB_ERRORS:]
            self._new_errors = False
        if self.recreated:
            counters = dict(self.job.counters or {})
            counters["issues_recreated"] = len(self.recreated)
            counters["recreated"] = self.recreated[:MAX_DAMAGED_LISTED]
            fields["counters"] = self.job.counters = counters
            self.recreated = []
        self.lease.update(**fields)

    def error(self, kind: str, source: str, message: str, *, planned: bool = False) -> None:
        """Record what did not come back. ``planned``: a limit the plan named before anything
        was written (the target's grant lacks Jira Software's scopes): reported like the rest,
        but it does not make the job ``partial``."""
        entry = {"kind": kind, "source": source, "error": str(message)[:300]}
        if planned:
            entry["planned"] = True
        self.errors.append(entry)
        self._new_errors = True

    def items(self, kind: str):
        return RestoreItem.objects.filter(
            target_site_id=self.job.target_site_id,
            source_cloud_id=self.source.cloud_id,
            kind=kind,
        )

    def _save_item(self, kind: str, source_id: str, **fields: Any) -> RestoreItem:
        item, _ = RestoreItem.objects.update_or_create(
            target_site_id=self.job.target_site_id,
            source_cloud_id=self.source.cloud_id,
            kind=kind,
            source_id=str(source_id),
            defaults={"job_id": self.job.pk, **fields},
        )
        return item

    @cached_property
    def records_by_id(self) -> dict[str, dict[str, Any]]:
        return {str(r["id"]): r for r in self.source.issues}

    @property
    def same_site(self) -> bool:
        return self.job.target_site.cloud_id == self.source.cloud_id

    # -- verify -----------------------------------------------------------------------------------

    def phase_verify(self) -> bool:
        """Name damaged attachments before the first write; stop, or skip them, as chosen.
        Reading the issues in scope here also finds a corrupt shard before anything is sent."""
        damaged = integrity.damaged_attachments(self.source)
        if not damaged:
            return True
        self.lease.update(plan={**(self.job.plan or {}), "damaged": damaged[:MAX_DAMAGED_LISTED]})
        if not self.skip_damaged:
            raise SnapshotDamaged(damaged, what="attachment")
        for entry in damaged:
            self.damaged.add(entry["sha256"])
            self.error(
                "attachment",
                entry["issue"],
                f"{entry['filename']} is damaged in storage ({entry['problem']}): skipped",
            )
        return True

    # -- config -----------------------------------------------------------------------------------

    def phase_config(self) -> bool:
        c = self.client
        field_mapping = maps.map_fields(self.source.records("fields"), c.fields())
        users = {u["accountId"] for u in c.users() if u.get("accountId")}
        self.mapping = maps.Mapping(
            fields=field_mapping,
            users=users,
            user_fallback=self.job.user_fallback,
            issue_types=maps.by_name(c.issue_types()),
            priorities=maps.by_name(list(c.priorities())),
            link_types=maps.by_name(c.issue_link_types()),
        )
        if self.job.user_fallback and self.job.user_fallback not in users:
            self.error("user", self.job.user_fallback, "the fallback user is unknown in the target")
        return True

    # -- projects, components, versions ---------------------------------------------------------

    def phase_projects(self) -> bool:
        c = self.client
        m = self.mapping
        known = {
            i.source_id: i
            for i in self.items(RestoreItem.Kind.PROJECT).filter(state__in=DONE_STATES)
        }
        target = {p["key"].upper(): p for p in c.projects(expand="description")}
        for project in self.source.projects:
            pid = str(project["id"])
            item = known.get(pid)
            if item is not None and item.target_key.upper() in target:
                m.projects[pid] = {"id": item.target_id, "key": item.target_key}
            elif project["key"].upper() in target:
                found = target[project["key"].upper()]
                self._save_item(
                    RestoreItem.Kind.PROJECT,
                    pid,
                    source_key=project["key"],
                    target_id=str(found["id"]),
                    target_key=found["key"],
                    state=RestoreItem.State.EXISTING,
                )
                m.projects[pid] = {"id": str(found["id"]), "key": found["key"]}
            elif not self.job.create_projects:
                self.error("project", project["key"], "missing in the target; creation not allowed")
                continue
            else:
                created = self._create_project(project)
                if created is None:
                    continue
                m.projects[pid] = created
            self._project_parts(project, m.projects[pid])
        return True

    def _create_project(self, project: dict[str, Any]) -> dict[str, str] | None:
        lead = self.mapping.user((project.get("lead") or {}).get("accountId"))
        payload = {
            "key": project["key"],
            "name": project.get("name") or project["key"],
            "projectTypeKey": project.get("projectTypeKey") or "software",
            "description": project.get("description") or "",
            "assigneeType": "UNASSIGNED",
        }
        if lead:
            payload["leadAccountId"] = lead
        try:
            created = self.client.create_project(payload)
        except (ApiForbidden, ApiBadRequest) as exc:
            self._save_item(
                RestoreItem.Kind.PROJECT,
                str(project["id"]),
                source_key=project["key"],
                state=RestoreItem.State.FAILED,
                error=str(exc)[:500],
            )
            self.error("project", project["key"], f"cannot be created: {exc}")
            return None
        self._save_item(
            RestoreItem.Kind.PROJECT,
            str(project["id"]),
            source_key=project["key"],
            target_id=str(created["id"]),
            target_key=created["key"],
            state=RestoreItem.State.CREATED,
        )
        self._same_workflow_scheme(project, created)
        return {"id": str(created["id"]), "key": created["key"]}

    def _same_workflow_scheme(self, project: dict[str, Any], created: dict[str, Any]) -> None:
        """A new project gets the workflow scheme of the same name as its source's (while it
        has no issues, Jira allows it), so its issues can reach the statuses they had."""
        wanted = next(
            (
                s.get("name")
                for s in self.source.records("workflow_schemes")
                if s.get("projectId") == str(project["id"])
            ),
            None,
        )
        if not wanted:
            return
        try:
            schemes = {str(s.get("name")): s["id"] for s in self.client.workflow_schemes()}
            if wanted in schemes:
                self.client.assign_workflow_scheme(created["id"], schemes[wanted])
            else:
                self.error("workflow", project["key"], f"scheme '{wanted}' missing in the target")
        except (ApiForbidden, ApiBadRequest, ApiNotFound) as exc:
            self.error("workflow", project["key"], f"scheme '{wanted}' not assigned: {exc}")

    def _project_parts(self, project: dict[str, Any], target: dict[str, str]) -> None:
        c, m = self.client, self.mapping
        pid = str(project["id"])
        parts = (
            (
                RestoreItem.Kind.COMPONENT,
                self.source.components(),
                c.project_components,
                c.create_component,
                m.components,
            ),
            (
                RestoreItem.Kind.VERSION,
                self.source.versions(),
                c.project_versions,
                c.create_version,
                m.versions,
            ),
        )
        for kind, records, list_target, create, table in parts:
            existing = {str(r["name"]).lower(): str(r["id"]) for r in list_target(target["key"])}
            for record in records:
                if str(record.get("projectId")) != pid:
                    continue
                name = str(record["name"])
                if name.lower() in existing:
                    table[str(record["id"])] = existing[name.lower()]
                    continue
                payload: dict[str, Any] = {
                    "name": name,
                    "description": record.get("description") or "",
                }
                if kind == RestoreItem.Kind.COMPONENT:
                    payload["project"] = target["key"]
                    lead = m.user(
                        record.get("leadAccountId") or (record.get("lead") or {}).get("accountId")
                    )
                    if lead:
                        payload["leadAccountId"] = lead
                else:
                    payload["projectId"] = (
                        int(target["id"]) if str(target["id"]).isdigit() else target["id"]
                    )
                    for key in ("released", "archived", "releaseDate", "startDate"):
                        if record.get(key) is not None:
                            payload[key] = record[key]
                try:
                    created = create(payload)
                except ApiBadRequest as exc:
                    self.error(kind, f"{project['key']}/{name}", str(exc))
                    continue
                table[str(record["id"])] = str(created["id"])
                existing[name.lower()] = str(created["id"])
                self._save_item(
                    kind,
                    str(record["id"]),
                    source_key=name,
                    target_id=str(created["id"]),
                    target_key=name,
                    state=RestoreItem.State.CREATED,
                )

    # -- issues -----------------------------------------------------------------------------------

    @cached_property
    def issues_in_order(self) -> list[dict[str, Any]]:
        """Parents before children: epics, then standard issues, then sub-tasks (by id)."""
        return sorted(self.source.issues, key=lambda r: (-maps.hierarchy_level(r), int(r["id"])))

    def phase_issues(self) -> bool:
        self._reconcile_pending()
        mapped = dict(
            self.items(RestoreItem.Kind.ISSUE)
            .filter(state__in=DONE_STATES)
            .values_list("source_id", "target_key")
        )
        failed_here = set(
            self.items(RestoreItem.Kind.ISSUE)
            .filter(state=RestoreItem.State.FAILED, job_id=self.job.pk)
            .values_list("source_id", flat=True)
        )
        todo = [
            r
            for r in self.issues_in_order
            if str(r["id"]) not in mapped and str(r["id"]) not in failed_here
        ]
        if not todo:
            return True
        batch, payloads = [], []
        in_batch: set[str] = set()
        for record in todo:
            parent = (record.get("fields") or {}).get("parent") or {}
            if parent and str(parent.get("id")) in in_batch:
                break  # its parent is created by this request: the next one carries it
            built = maps.issue_payload(
                record,
                self.mapping,
                source_cloud_id=self.source.cloud_id,
                snapshot_id=self.source.snapshot_id,
            )
            if not built.skipped_reason and parent:
                built.skipped_reason = self._set_parent(record, parent, built, mapped)
            if built.skipped_reason:
                self._fail_issue(record, built.skipped_reason)
                continue
            batch.append((record, built))
            payloads.append(built.payload)
            in_batch.add(str(record["id"]))
            if len(batch) == BULK:
                break
        if not batch:
            return False
        if self.same_site:
            batch = self._skip_still_present(batch)
            payloads = [built.payload for _record, built in batch]
            if not batch:
                return False
        with transaction.atomic():
            for record, built in batch:
                self._save_item(
                    RestoreItem.Kind.ISSUE,
                    str(record["id"]),
                    source_key=record["key"],
                    target_id="",
                    target_key="",
                    state=RestoreItem.State.PENDING,
                    detail={"unknown_users": sorted(built.unknown_users), "lost": built.lost},
                    error="",
                )
        _hook("issues:before-send")
        result = self.client.bulk_create_issues(payloads)
        _hook("issues:sent")
        failures = {}
        for err in result.errors:
            element = err.get("elementErrors") or {}
            text = "; ".join(
                list(element.get("errorMessages") or [])
                + [f"{k}: {v}" for k, v in (element.get("errors") or {}).items()]
            )
            failures[int(err.get("failedElementNumber", -1))] = (
                text or f"status {err.get('status')}"
            )
        created = iter(result.issues)
        with transaction.atomic():
            for index, (record, built) in enumerate(batch):
                if index in failures:
                    self._fail_issue(record, failures[index])
                    continue
                answer = next(created, None)
                if answer is None:  # pragma: no cover - Atlassian answered fewer than it created
                    continue
                self._save_item(
                    RestoreItem.Kind.ISSUE,
                    str(record["id"]),
                    source_key=record["key"],
                    target_id=str(answer["id"]),
                    target_key=answer["key"],
                    state=RestoreItem.State.CREATED,
                    detail={"unknown_users": sorted(built.unknown_users), "lost": built.lost},
                )
                for lost in built.lost:
                    self.error("parent", record["key"], lost)
        return False

    def _set_parent(
        self, record: dict[str, Any], parent: dict[str, Any], built: Any, mapped: dict[str, str]
    ) -> str:
        """Put the parent (epic, or a sub-task's issue) into the create request; "" when done,
        else why the issue cannot be created. A standard issue whose epic was not restored is
        created without it (and reported)."""
        key = mapped.get(str(parent.get("id")))
        if not key and self.same_site and str(parent.get("id")) not in self.records_by_id:
            key = parent.get("key")  # outside the scope: the original is still there
        if key:
            built.payload["fields"]["parent"] = {"key": key}
            return ""
        if maps.hierarchy_level(record) < 0:
            return f"sub-task whose parent {parent.get('key')} was not restored"
        built.lost.append(f"parent {parent.get('key')} not restored")
        return ""

    def _skip_still_present(self, batch: list) -> list:
        """Restoring into the snapshot's own site: issues that still exist there (same id) are
        not created again, only recorded as existing."""
        ids = [str(record["id"]) for record, _built in batch]
        found = self.client.bulkfetch_issues(ids, fields=("id",)).get("issues") or []
        present = {str(i["id"]): i for i in found}
        remaining = []
        for record, built in batch:
            issue = present.get(str(record["id"]))
            if issue is None:
                remaining.append((record, built))
                continue
            self._save_item(
                RestoreItem.Kind.ISSUE,
                str(record["id"]),
                source_key=record["key"],
                target_id=str(issue["id"]),
                target_key=issue.get("key", record["key"]),
                state=RestoreItem.State.EXISTING,
            )
        return remaining

    def _fail_issue(self, record: dict[str, Any], reason: str) -> None:
        self._save_item(
            RestoreItem.Kind.ISSUE,
            str(record["id"]),
            source_key=record["key"],
            state=RestoreItem.State.FAILED,
            error=reason[:500],
        )
        self.error("issue", record["key"], reason)

    def _reconcile_pending(self) -> None:
        """Creates sent but not recorded (a crash, a timeout): find them in the target by the
        source property on issues created since, before anything is created again."""
        pending = list(self.items(RestoreItem.Kind.ISSUE).filter(state=RestoreItem.State.PENDING))
        if not pending:
            return
        oldest = min(p.updated_at for p in pending)
        age = (timezone.now() - oldest).total_seconds()
        settle = conf.restore_settle_seconds()
        if age < settle:
            raise NotReady(
                "waiting for the target's search to show issues created before an interruption",
                seconds=settle - age,
            )
        minutes = int(age // 60) + 10
        wanted = {p.source_id: p for p in pending}
        projects = {
            self.mapping.projects[str(self.records_by_id[p.source_id]["projectId"])]["id"]
            for p in pending
            if p.source_id in self.records_by_id
            and str(self.records_by_id[p.source_id]["projectId"]) in self.mapping.projects
        }
        found: dict[str, dict[str, Any]] = {}
        for project_id in sorted(projects):
            for issue in self.client.search_jql(
                f'project = {project_id} AND created >= "-{minutes}m" ORDER BY id ASC',
                fields=("id",),
                properties=(maps.SOURCE_PROPERTY,),
                max_results=100,
            ):
                prop = (issue.get("properties") or {}).get(maps.SOURCE_PROPERTY) or {}
                if prop.get("cloudId") == self.source.cloud_id and prop.get("issueId") in wanted:
                    found.setdefault(prop["issueId"], issue)
        with transaction.atomic():
            for source_id, item in wanted.items():
                issue = found.get(source_id)
                if issue is None:
                    item.delete()  # never created: the next batch creates it
                    continue
                item.target_id, item.target_key = str(issue["id"]), issue["key"]
                item.state = RestoreItem.State.CREATED
                item.job_id = self.job.pk
                item.save(update_fields=["target_id", "target_key", "state", "job", "updated_at"])

    # -- comments, worklogs, remote links, attachments --------------------------------------------

    def phase_parts(self) -> bool:
        scope_ids = list(self.records_by_id)
        group = list(
            self.items(RestoreItem.Kind.ISSUE)
            .filter(state=RestoreItem.State.CREATED, source_id__in=scope_ids)
            .order_by("id")[:PARTS_GROUP]
        )
        if not group:
            return True
        queues: list[tuple[RestoreItem, list[tuple[str, Callable[[], Any]]]]] = []
        for item in group:
            record = self.records_by_id[item.source_id]
            existing = self._existing_parts(item) if item.detail.get("parts_started") else None
            queues.append((item, self._part_writes(item, record, existing)))
        with transaction.atomic():
            for item in group:
                item.detail = {**item.detail, "parts_started": True}
                RestoreItem.objects.filter(pk=item.pk).update(detail=item.detail)
        counts = {item.pk: dict.fromkeys(PART_KINDS, 0) for item in group}
        # Round robin over the issues, so one issue's spacing never stalls the others.
        refused: tuple[type[Exception], ...] = (ApiBadRequest, ApiNotFound, ApiForbidden)
        if self.skip_damaged:
            refused += (SnapshotDamaged,)

        def run_one(index: int, entry: tuple[str, Callable[[], Any]]) -> None:
            item, (kind, write) = queues[index][0], entry
            try:
                write()
                counts[item.pk][kind] += 1
            except refused as exc:
                self.error(kind.rstrip("s"), item.source_key, str(exc))
            _hook(f"parts:{kind}")

        interleave(
            self.pacer,
            [(item.target_key, writes) for item, writes in queues],
            run_one,
            self.lease.heartbeat,
        )
        with transaction.atomic():
            for item in group:
                detail = {k: v for k, v in item.detail.items() if k != "parts_started"}
                previous = detail.pop("parts_found", None) or {}
                detail["parts"] = {k: previous.get(k, 0) + v for k, v in counts[item.pk].items()}
                RestoreItem.objects.filter(pk=item.pk).update(
                    state=RestoreItem.State.COMPLETE, detail=detail, job_id=self.job.pk
                )
        return False

    def _existing_parts(self, item: RestoreItem) -> dict[str, Any]:
        """What the target issue already holds (its parts were started before a crash)."""
        c, key = self.client, item.target_key
        attachments = (c.get_issue(key, fields=("attachment",)).get("fields") or {}).get(
            "attachment"
        ) or []
        return {
            "comments": [maps.canonical(x.get("body")) for x in c.comments(key)],
            "worklogs": [(w.get("started"), w.get("timeSpentSeconds")) for w in c.worklogs(key)],
            "remote_links": [
                r.get("globalId") or (r.get("object") or {}).get("url") for r in c.remote_links(key)
            ],
            "attachments": [(a.get("filename"), a.get("size")) for a in attachments],
            "attachment_ids": {(a.get("filename"), a.get("size")): a["id"] for a in attachments},
        }

    def _part_writes(
        self, item: RestoreItem, record: dict[str, Any], existing: dict[str, Any] | None
    ) -> list[tuple[str, Callable[[], Any]]]:
        """The issue's writes, in order: attachments first (inline media point at them), the
        description with its media remapped, comments and worklogs (each saying who wrote it
        and when), remote links, and the file with the issue's origin and history."""
        c, m, key = self.client, self.mapping, item.target_key
        unknown: set[str] = set()
        writes: list[tuple[str, Callable[[], Any]]] = []
        # Parts written before an interruption count as restored (found in the target).
        found: dict[str, int] = item.detail.setdefault("parts_found", {})
        fields = record.get("fields") or {}
        # Only attachments shown inline need their new media id (one read each).
        inline = {id(att) for att in provenance.referenced_attachments(record)}
        # Source media id (and file name) -> the restored attachment's media id.
        media: dict[str, str] = {}
        names: dict[str, str] = {}
        by_provenance = conf.restore_provenance()

        def already(kind: str, marker: Any) -> bool:
            if existing is None:
                return False
            pool = existing[kind]
            if marker in pool:
                pool.remove(marker)
                found[kind] = found.get(kind, 0) + 1
                return True
            return False

        def note_media(att: dict[str, Any], attachment_id: Any) -> None:
            if id(att) not in inline or attachment_id is None:
                return
            new = c.attachment_media_id(attachment_id)
            if new:
                if att.get("mediaId"):
                    media[str(att["mediaId"])] = new
                names.setdefault(str(att.get("filename")), new)

        for att in record.get("attachments") or []:
            marker = (att.get("filename"), att.get("size"))
            if already("attachments", marker):
                note_media(att, existing["attachment_ids"].get(marker))
                continue
            if att.get("sha256") in self.damaged:
                continue  # named by the verify phase, skipped as the requester chose

            def upload(att=att):
                # The bytes are checked again as they leave storage: damage since the verify
                # phase is never uploaded either.
                data = integrity.read_verified(
                    self.source.reader.objects,
                    att["sha256"],
                    issue=record.get("key", ""),
                    filename=att.get("filename") or "",
                )
                answer = c.add_attachment(
                    key,
                    att.get("filename") or "attachment",
                    data,
                    content_type=att.get("mimeType") or "application/octet-stream",
                )
                note_media(att, (answer[0] if answer else {}).get("id"))
                return answer

            writes.append(("attachments", upload))
        edited = {
            name: fields.get(name)
            for name in ("description", "environment")
            if provenance.media_ids_in(fields.get(name))
        }
        if edited:

            def edit():
                c.edit_issue(
                    key,
                    fields={
                        name: provenance.remap_media(maps.map_adf(doc, m), media, names)
                        for name, doc in edited.items()
                    },
                )

            writes.append(("media", edit))
        item.detail["authors_as_text"] = sum(
            1
            for part in (record.get("comments") or []) + (record.get("worklogs") or [])
            if (part.get("author") or {}).get("accountId") not in m.users
        )
        for comment in record.get("comments") or []:

            def comment_body(comment=comment):
                body = maps.map_adf(comment.get("body"), m, unknown)
                body = provenance.remap_media(body, media, names)
                if by_provenance:
                    text = provenance.provenance_text(comment.get("author"), comment.get("created"))
                    body = provenance.with_provenance(body, text)
                return body

            if existing is not None and already("comments", maps.canonical(comment_body())):
                continue
            maps.map_adf(comment.get("body"), m, unknown)  # unknown mentions, for the report

            def add_comment(comment=comment, comment_body=comment_body):
                return c.add_comment(key, maps.comment_payload(comment, comment_body()))

            writes.append(("comments", add_comment))
        for worklog in record.get("worklogs") or []:
            if already("worklogs", (worklog.get("started"), worklog.get("timeSpentSeconds"))):
                continue
            comment_doc = (
                maps.map_adf(worklog["comment"], m, unknown)
                if worklog.get("comment") is not None
                else None
            )
            if by_provenance:
                text = provenance.provenance_text(worklog.get("author"), worklog.get("started"))
                comment_doc = provenance.with_provenance(comment_doc, text)
            payload = maps.worklog_payload(worklog, comment_doc)
            writes.append(("worklogs", lambda p=payload: c.add_worklog(key, p)))
        for link in record.get("remoteLinks") or []:
            marker = link.get("globalId") or (link.get("object") or {}).get("url")
            if already("remote_links", marker):
                continue
            payload = {
                k: link[k]
                for k in ("globalId", "application", "relationship", "object")
                if k in link
            }
            writes.append(("remote_links", lambda p=payload: c.add_remote_link(key, p)))
        history = provenance.history_file(
            record, site=self.source.reader.manifest.site, snapshot=self._snapshot_info
        )
        name = provenance.history_filename(record.get("key", "issue"))
        if not already("attachments", (name, len(history))):
            writes.append(
                (
                    "history",
                    lambda: c.add_attachment(key, name, history, content_type="text/plain"),
                )
            )
        if unknown:
            item.detail = {
                **item.detail,
                "unknown_users": sorted(set(item.detail.get("unknown_users", [])) | unknown),
            }
        return writes

    @cached_property
    def _snapshot_info(self) -> dict[str, str]:
        manifest = self.source.reader.manifest
        return {"id": manifest.snapshot_id, "finished_at": manifest.finished_at}

    # -- issue links ------------------------------------------------------------------------------

    def phase_links(self) -> bool:
        targets = dict(
            (sid, tkey)
            for sid, tkey in self.items(RestoreItem.Kind.ISSUE)
            .filter(state__in=DONE_STATES)
            .values_list("source_id", "target_key")
        )
        links: dict[str, dict[str, Any]] = {}
        for record in self.source.issues:
            for link in issue_links(record):
                links.setdefault(link["id"], link)
        states = dict(self.items(RestoreItem.Kind.LINK).values_list("source_id", "state"))
        failed_here = set(
            self.items(RestoreItem.Kind.LINK)
            .filter(state=RestoreItem.State.FAILED, job_id=self.job.pk)
            .values_list("source_id", flat=True)
        )
        todo = [
            link
            for lid, link in sorted(links.items())
            if states.get(lid) not in DONE_STATES and lid not in failed_here
        ]
        if not todo:
            return True
        for link in todo[:LINKS_UNIT]:
            ends = []
            for side in ("from", "to"):
                key = targets.get(link[side])
                if key is None and self.same_site and link[side] not in self.records_by_id:
                    key = link["other_key"]  # out of scope: the original issue is still there
                ends.append(key)
            if None in ends or not all(ends):
                self._save_item(
                    RestoreItem.Kind.LINK,
                    link["id"],
                    source_key=f"{link['from']}->{link['to']}",
                    state=RestoreItem.State.FAILED,
                    error="the other end of the link was not restored",
                )
                self.error("link", link["id"], "the other end of the link was not restored")
                continue
            if (link.get("type") or "").lower() not in self.mapping.link_types:
                self._save_item(
                    RestoreItem.Kind.LINK,
                    link["id"],
                    state=RestoreItem.State.FAILED,
                    error=f"link type {link.get('type')} missing in the target",
                )
                self.error(
                    "link", link["id"], f"link type {link.get('type')} missing in the target"
                )
                continue
            if states.get(link["id"]) == RestoreItem.State.PENDING and self._link_exists(
                link, ends
            ):
                self._save_item(RestoreItem.Kind.LINK, link["id"], state=RestoreItem.State.CREATED)
                continue
            self._save_item(
                RestoreItem.Kind.LINK,
                link["id"],
                source_key=f"{link['from']}->{link['to']}",
                target_key=f"{ends[0]}->{ends[1]}",
                state=RestoreItem.State.PENDING,
            )
            self.pacer.acquire(*ends)
            try:
                self.client.create_issue_link(
                    {
                        "type": {"name": link["type"]},
                        "inwardIssue": {"key": ends[0]},
                        "outwardIssue": {"key": ends[1]},
                    }
                )
            except (ApiBadRequest, ApiNotFound) as exc:
                self._save_item(
                    RestoreItem.Kind.LINK,
                    link["id"],
                    state=RestoreItem.State.FAILED,
                    error=str(exc)[:500],
                )
                self.error("link", link["id"], str(exc))
                continue
            _hook("links:sent")
            self._save_item(RestoreItem.Kind.LINK, link["id"], state=RestoreItem.State.CREATED)
        return False

    def _link_exists(self, link: dict[str, Any], ends: list[str]) -> bool:
        issue = self.client.get_issue(ends[0], fields=("issuelinks",))
        for existing in (issue.get("fields") or {}).get("issuelinks") or []:
            if (existing.get("type") or {}).get("name", "").lower() == str(
                link["type"]
            ).lower() and (existing.get("outwardIssue") or {}).get("key") == ends[1]:
                return True
        return False

    # -- the end ----------------------------------------------------------------------------------

    def finalize(self) -> None:
        counters = restore_counters(self.job, self.source)
        failed = (
            counters["issues_failed"]
            + counters["links_failed"]
            + counters["statuses_not_reached"]
            + counters["sprints_failed"]
        )
        problems = [e for e in self.errors if not e.get("planned")]
        planned = len(self.errors) - len(problems)
        status = RestoreJob.Status.PARTIAL if (failed or problems) else RestoreJob.Status.SUCCEEDED
        reason = (
            f"{counters['issues_created']} issues created, {counters['issues_already']} already "
            f"there, {counters['issues_failed']} failed; {len(problems)} problem(s) reported"
            + (f", {planned} limit(s) the plan named" if planned else "")
        )
        with transaction.atomic():
            if not leases.finish(
                self.lease,
                status=status,
                reason=reason,
                counters=counters,
                errors=self.errors[-MAX_JOB_ERRORS:],
                mapping=self.mapping.as_json() if self.mapping else {},
            ):
                raise LeaseLost(f"restore job {self.job.pk} lost its lease before finishing")
            record_event(
                actor=None,
                action="restore.job_finished",
                target=self.job,
                tenant=self.job.target_site.tenant,
                summary={
                    "status": status,
                    **{k: v for k, v in counters.items() if v and k != "configuration"},
                    "configuration_written": counters["configuration"].get("written") or {},
                },
            )


def restore_counters(job: RestoreJob, source: SnapshotSource) -> dict[str, Any]:
    """Exact counts from the id map: what this job created, what it found already restored,
    and what came back other than it was."""
    scope_ids = [str(r["id"]) for r in source.issues]
    issues = RestoreItem.objects.filter(
        target_site_id=job.target_site_id,
        source_cloud_id=source.cloud_id,
        kind=RestoreItem.Kind.ISSUE,
        source_id__in=scope_ids,
    )
    rows = list(issues.values("state", "job_id", "detail"))
    mine = [r for r in rows if r["job_id"] == job.pk]
    created = [r for r in mine if r["state"] in DONE_STATES and (r["detail"] or {}).get("parts")]
    parts: dict[str, int] = {}
    unknown: set[str] = set()
    for row in rows:
        unknown.update((row["detail"] or {}).get("unknown_users") or [])
    statuses: dict[str, int] = {}
    authors_as_text = 0
    parents_lost = 0
    for row in created:
        detail = row["detail"] or {}
        for k, v in (detail.get("parts") or {}).items():
            parts[k] = parts.get(k, 0) + int(v)
        outcome = detail.get("status")
        if outcome:
            statuses[outcome] = statuses.get(outcome, 0) + 1
        authors_as_text += int(detail.get("authors_as_text") or 0)
        parents_lost += len(detail.get("lost") or [])
    links = RestoreItem.objects.filter(
        target_site_id=job.target_site_id,
        source_cloud_id=source.cloud_id,
        kind=RestoreItem.Kind.LINK,
        job_id=job.pk,
    )
    sprints = RestoreItem.objects.filter(
        target_site_id=job.target_site_id,
        source_cloud_id=source.cloud_id,
        kind=RestoreItem.Kind.SPRINT,
        job_id=job.pk,
    ).exclude(detail__has_key="skipped")
    return {
        "issues_in_scope": len(scope_ids),
        "issues_created": len(created),
        "issues_already": len(rows)
        - len(mine)
        + len([r for r in mine if r["state"] == RestoreItem.State.EXISTING]),
        "issues_failed": len([r for r in mine if r["state"] == RestoreItem.State.FAILED]),
        "issues_recreated": int((job.counters or {}).get("issues_recreated") or 0),
        # What the configuration phase wrote and what is left to apply by hand.
        "configuration": (job.counters or {}).get("configuration") or {},
        "comments": parts.get("comments", 0),
        "worklogs": parts.get("worklogs", 0),
        "remote_links": parts.get("remote_links", 0),
        "attachments": parts.get("attachments", 0),
        "descriptions_with_media": parts.get("media", 0),
        "history_files": parts.get("history", 0),
        "links_created": links.filter(state=RestoreItem.State.CREATED).count(),
        "links_failed": links.filter(state=RestoreItem.State.FAILED).count(),
        "statuses_set": statuses.get("done", 0),
        "statuses_not_reached": statuses.get("unreachable", 0) + statuses.get("failed", 0),
        "statuses_unreadable": statuses.get("unreadable", 0),
        "parents_lost": parents_lost,
        "sprints_restored": sprints.filter(state=RestoreItem.State.COMPLETE).count(),
        "sprints_failed": sprints.filter(state=RestoreItem.State.FAILED).count(),
        "authors_as_text": authors_as_text,
        "unknown_users": len(unknown),
    }
