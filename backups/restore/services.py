"""Writes of restore: create (plan or run) a restore job, cancel, resume. Keyword-only, with the
acting user (None = the system); audit event in the same transaction; enqueue only on commit."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from backups.exceptions import RestoreRefused, ScopeError
from backups.jobs.services import job_cancel, job_resume, stale_job_ids
from backups.models import Snapshot
from backups.restore.models import RESTORE_ACTIVE_STATUSES, RestoreJob
from backups.restore.source import Scope, SnapshotSource
from backups.services import refuse_inactive_tenant
from tenants.audit import record_event
from tenants.models import JiraSite

__all__ = [
    "RestoreRefused",
    "restore_job_cancel",
    "restore_job_create",
    "restore_job_resume",
    "restore_jobs_reap",
]


def _enqueue(job_id: int, countdown: float = 0) -> None:
    from backups.restore.tasks import run_restore_job

    transaction.on_commit(
        lambda: run_restore_job.apply_async((job_id,), countdown=max(0, countdown))
    )


def _clean_keys(values: Any) -> list[str]:
    keys = []
    for value in values or []:
        key = str(value).strip().upper()
        if not key:
            continue
        if not all(ch.isalnum() or ch in "-_" for ch in key) or len(key) > 255:
            raise RestoreRefused(f"{value!r} is not a Jira project or issue key")
        if key not in keys:
            keys.append(key)
    return keys


def restore_job_create(
    *,
    snapshot: Snapshot,
    target_site: JiraSite,
    project_keys: list[str] | None = None,
    issue_keys: list[str] | None = None,
    dry_run: bool = False,
    user_fallback: str = "",
    create_projects: bool = True,
    on_damaged: str = RestoreJob.OnDamaged.STOP,
    acting_user: Any,
    enqueue: bool = True,
) -> RestoreJob:
    """Queue a restore (or, with ``dry_run``, a plan that writes nothing to the target).

    Refused with a clear message, and nothing stored, when the snapshot is not restorable, the
    scope names nothing the snapshot holds, the target cannot be written, belongs to another
    tenant or to a suspended one, or already has a restore running. ``on_damaged``: what to do
    with objects of the snapshot that are missing or do not hash to their manifest's SHA-256
    (``stop`` before writing anything, or ``skip`` them)."""
    project_keys = _clean_keys(project_keys)
    issue_keys = _clean_keys(issue_keys)
    if project_keys and issue_keys:
        raise RestoreRefused("choose projects or issues, not both")
    if snapshot.status != Snapshot.Status.COMPLETE:
        raise RestoreRefused(f"snapshot {snapshot.pk} is {snapshot.status}; it cannot be restored")
    if target_site.tenant_id != snapshot.site.tenant_id:
        raise RestoreRefused("the target site belongs to another customer than the snapshot")
    if target_site.status in (JiraSite.Status.DISCONNECTED, JiraSite.Status.OFFBOARDED):
        raise RestoreRefused(f"site {target_site.url} is {target_site.status}")
    if on_damaged not in RestoreJob.OnDamaged.values:
        raise RestoreRefused(f"unknown choice for damaged objects {on_damaged!r} (stop or skip)")
    refuse_inactive_tenant(target_site, RestoreRefused)
    scope = Scope(tuple(project_keys), tuple(issue_keys))
    try:
        source = SnapshotSource.open(snapshot, scope)
        source.projects  # noqa: B018 - validates the scope against the snapshot
        if scope.kind == "issues":
            source.issues  # noqa: B018
    except ScopeError as exc:
        raise RestoreRefused(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - an unreadable snapshot is refused, not a crash
        raise RestoreRefused(f"snapshot {snapshot.pk} cannot be read: {exc}") from None
    user_fallback = (user_fallback or "").strip()
    if len(user_fallback) > 128:
        raise RestoreRefused("the fallback account id is too long")
    if not dry_run:
        if RestoreJob.objects.filter(
            target_site=target_site, status__in=RESTORE_ACTIVE_STATUSES, dry_run=False
        ).exists():
            raise RestoreRefused(f"a restore into {target_site.url} is already running")
    try:
        with transaction.atomic():
            job = RestoreJob.objects.create(
                snapshot=snapshot,
                target_site=target_site,
                scope=scope.kind,
                project_keys=project_keys,
                issue_keys=issue_keys,
                dry_run=dry_run,
                user_fallback=user_fallback,
                create_projects=create_projects,
                on_damaged=on_damaged,
                requested_by=acting_user if getattr(acting_user, "pk", None) else None,
            )
            record_event(
                actor=acting_user,
                action="restore.dry_run_requested" if dry_run else "restore.job_enqueued",
                target=job,
                tenant=target_site.tenant,
                summary={
                    "snapshot": str(snapshot.pk),
                    "target": target_site.cloud_id,
                    "scope": scope.kind,
                    "projects": project_keys,
                    "issues": issue_keys[:50],
                    "on_damaged": on_damaged,
                },
            )
            if enqueue:
                _enqueue(job.pk)
    except IntegrityError:
        raise RestoreRefused(f"a restore into {target_site.url} is already running") from None
    return job


def restore_job_cancel(*, job: RestoreJob, acting_user: Any, reason: str = "") -> RestoreJob:
    return job_cancel(
        job=job,
        active=RESTORE_ACTIVE_STATUSES,
        acting_user=acting_user,
        reason=reason,
        action="restore.job_cancelled",
        tenant=job.target_site.tenant,
    )


def restore_job_resume(*, job: RestoreJob, acting_user: Any) -> RestoreJob:
    """Queue again a job paused for re-authorization or interrupted (its lease expired)."""
    return job_resume(
        job=job,
        acting_user=acting_user,
        action="restore.job_resumed",
        tenant=job.target_site.tenant,
        enqueue=_enqueue,
    )


def restore_jobs_reap() -> list[int]:
    """Re-queue running restores whose lease expired (their worker died)."""
    stale = stale_job_ids(RestoreJob)
    for job_id in stale:
        _enqueue(job_id)
    return stale
