"""Writes of roll-back: create (dry run or real) a roll-back job, cancel, resume, reap.
Keyword-only, with the acting user (None = the system); audit event in the same transaction;
enqueue only on commit."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from backups.exceptions import RollbackRefused
from backups.jobs.services import job_cancel, job_resume, stale_job_ids
from backups.models import Snapshot
from backups.rollback.models import ROLLBACK_ACTIVE_STATUSES, RollbackJob
from backups.services import refuse_inactive_tenant
from backups.snapshots.reader import SnapshotReader
from tenants.audit import record_event
from tenants.models import JiraSite

__all__ = [
    "RollbackRefused",
    "rollback_job_cancel",
    "rollback_job_create",
    "rollback_job_resume",
    "rollback_jobs_reap",
]

_KEY = re.compile(r"^[A-Z][A-Z0-9_]*(-\d+)?$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9:_-]{1,128}$")


def _enqueue(job_id: int, countdown: float = 0) -> None:
    from backups.rollback.tasks import run_rollback_job

    transaction.on_commit(
        lambda: run_rollback_job.apply_async((job_id,), countdown=max(0, countdown))
    )


def _keys(values: Any, *, issue: bool) -> list[str]:
    out: list[str] = []
    for value in values or []:
        key = str(value).strip().upper()
        if not key:
            continue
        if not _KEY.match(key) or len(key) > 255 or (issue and "-" not in key):
            what = "an issue key" if issue else "a project key"
            raise RollbackRefused(f"{value!r} is not {what}")
        if key not in out:
            out.append(key)
    return out


def rollback_job_create(
    *,
    snapshot: Snapshot,
    issue_keys: list[str] | None = None,
    project_keys: list[str] | None = None,
    jql: str = "",
    changed_from: datetime | None = None,
    changed_to: datetime | None = None,
    changed_by: str = "",
    remove_added: bool = False,
    dry_run: bool = False,
    acting_user: Any,
    enqueue: bool = True,
) -> RollbackJob:
    """Queue a roll-back of the snapshot's site to the snapshot (or, with ``dry_run``, the
    per-issue diff, writing nothing to Jira).

    The scope is one of: ``issue_keys``; ``project_keys``; ``jql``; or ``changed_from`` and
    ``changed_to`` (issues whose changelog changed in that window, optionally by the account
    ``changed_by``; ``project_keys`` may narrow it); none of them: every project of the
    snapshot. Refused with a clear message, and nothing
    stored, when the scope is missing or ambiguous, the window is backwards or in the future,
    the snapshot is not complete, the site cannot be written, its tenant is suspended, or a
    roll-back of the site is already running."""
    issue_keys = _keys(issue_keys, issue=True)
    project_keys = _keys(project_keys, issue=False)
    jql = (jql or "").strip()
    changed_by = (changed_by or "").strip()
    window = changed_from is not None or changed_to is not None
    chosen = [bool(issue_keys), bool(jql), window]
    if sum(chosen) > 1 or (project_keys and (issue_keys or jql)):
        raise RollbackRefused("choose one scope: issue keys, projects, JQL or a time window")
    if window:
        if changed_from is None or changed_to is None:
            raise RollbackRefused("a time window needs both its start and its end")
        if timezone.is_naive(changed_from) or timezone.is_naive(changed_to):
            raise RollbackRefused("the window's times need a time zone (UTC)")
        if changed_to <= changed_from:
            raise RollbackRefused("the window ends before it starts")
    elif changed_by:
        raise RollbackRefused("'by account' narrows a time window: give the window too")
    if changed_by and not _ACCOUNT.match(changed_by):
        raise RollbackRefused(f"{changed_by!r} is not an Atlassian account id")
    if len(jql) > 2000:
        raise RollbackRefused("the JQL is too long (2,000 characters at most)")
    if not any(chosen) and not project_keys:
        project_keys = _snapshot_projects(snapshot)  # the whole site, as the snapshot holds it
    scope = (
        RollbackJob.Scope.ISSUES
        if issue_keys
        else RollbackJob.Scope.JQL
        if jql
        else RollbackJob.Scope.CHANGED
        if window
        else RollbackJob.Scope.PROJECTS
    )
    site = snapshot.site
    if snapshot.status != Snapshot.Status.COMPLETE:
        raise RollbackRefused(f"snapshot {snapshot.pk} is {snapshot.status}; it cannot be used")
    if site.status in (JiraSite.Status.DISCONNECTED, JiraSite.Status.OFFBOARDED):
        raise RollbackRefused(f"site {site.url} is {site.status}")
    refuse_inactive_tenant(site, RollbackRefused)
    if (
        not dry_run
        and RollbackJob.objects.filter(
            site=site, status__in=ROLLBACK_ACTIVE_STATUSES, dry_run=False
        ).exists()
    ):
        raise RollbackRefused(f"a roll-back of {site.url} is already running")
    try:
        with transaction.atomic():
            job = RollbackJob.objects.create(
                snapshot=snapshot,
                site=site,
                scope=scope,
                issue_keys=issue_keys,
                project_keys=project_keys,
                jql=jql,
                changed_from=changed_from,
                changed_to=changed_to,
                changed_by=changed_by,
                remove_added=remove_added,
                dry_run=dry_run,
                requested_by=acting_user if getattr(acting_user, "pk", None) else None,
            )
            record_event(
                actor=acting_user,
                action="rollback.dry_run_requested" if dry_run else "rollback.job_enqueued",
                target=job,
                tenant=site.tenant,
                summary={
                    "snapshot": str(snapshot.pk),
                    "site": site.cloud_id,
                    "scope": scope,
                    "issues": issue_keys[:50],
                    "projects": project_keys,
                    "jql": jql[:200],
                    "changed_from": changed_from.isoformat() if changed_from else None,
                    "changed_to": changed_to.isoformat() if changed_to else None,
                    "changed_by": changed_by,
                    "remove_added": remove_added,
                },
            )
            if enqueue:
                _enqueue(job.pk)
    except IntegrityError:
        raise RollbackRefused(f"a roll-back of {site.url} is already running") from None
    return job


def _snapshot_projects(snapshot: Snapshot) -> list[str]:
    try:
        reader = SnapshotReader.open(snapshot.site.cloud_id, str(snapshot.pk))
        keys = sorted(str(p["key"]).upper() for p in reader.records("projects"))
    except Exception as exc:  # noqa: BLE001 - an unreadable snapshot is refused, not a crash
        raise RollbackRefused(f"snapshot {snapshot.pk} cannot be read: {exc}") from None
    if not keys:
        raise RollbackRefused(f"snapshot {snapshot.pk} holds no project")
    return keys


def rollback_job_from_dry_run(*, dry_run: RollbackJob, acting_user: Any, enqueue: bool = True):
    """The roll-back a person confirmed after reading the dry run's diff: the same request,
    written (it reads the site again: only what still differs is written)."""
    if not dry_run.dry_run:
        raise RollbackRefused(f"roll-back #{dry_run.pk} is not a dry run")
    return rollback_job_create(
        snapshot=dry_run.snapshot,
        issue_keys=dry_run.issue_keys,
        project_keys=dry_run.project_keys,
        jql=dry_run.jql,
        changed_from=dry_run.changed_from,
        changed_to=dry_run.changed_to,
        changed_by=dry_run.changed_by,
        remove_added=dry_run.remove_added,
        acting_user=acting_user,
        enqueue=enqueue,
    )


def rollback_job_cancel(*, job: RollbackJob, acting_user: Any, reason: str = "") -> RollbackJob:
    return job_cancel(
        job=job,
        active=ROLLBACK_ACTIVE_STATUSES,
        acting_user=acting_user,
        reason=reason,
        action="rollback.job_cancelled",
        tenant=job.site.tenant,
    )


def rollback_job_resume(*, job: RollbackJob, acting_user: Any) -> RollbackJob:
    """Queue again a job paused for re-authorization or interrupted (its lease expired)."""
    return job_resume(
        job=job,
        acting_user=acting_user,
        action="rollback.job_resumed",
        tenant=job.site.tenant,
        enqueue=_enqueue,
    )


def rollback_jobs_reap() -> list[int]:
    """Re-queue running roll-backs whose lease expired (their worker died)."""
    stale = stale_job_ids(RollbackJob)
    for job_id in stale:
        _enqueue(job_id)
    return stale
