"""Writes of the backups domain. Keyword-only, with the acting user (None = the system); an
audit event in the same transaction; enqueueing only on commit."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Avg, Max, Q
from django.utils import timezone

from atlassian.pools import tier2_cloud_ids
from atlassian.ratelimit import GLOBAL_POOL, legacy_pool, tenant_pool
from backups import conf
from backups.exceptions import BackupRefused
from backups.jobs import leases
from backups.models import ACTIVE_STATUSES, BackupJob, BackupSchedule, Snapshot
from backups.selectors import newest_first
from tenants.audit import record_event
from tenants.models import JiraSite, Tenant

logger = logging.getLogger(__name__)


def _enqueue(job_id: int, countdown: float = 0) -> None:
    from backups.tasks import run_backup_job

    transaction.on_commit(
        lambda: run_backup_job.apply_async((job_id,), countdown=max(0, countdown))
    )


def backup_job_enqueue(
    *, site: JiraSite, kind: str = BackupJob.Kind.INCREMENTAL, acting_user: Any
) -> tuple[BackupJob, bool]:
    """Queue a backup of ``site``. Returns (job, created); when a job is already active for the
    site, that job is returned and nothing changes (double clicks, two beats)."""
    if kind not in BackupJob.Kind.values:
        raise BackupRefused(f"unknown backup kind {kind!r} (full or incremental)")
    if site.status in (JiraSite.Status.DISCONNECTED, JiraSite.Status.OFFBOARDED):
        raise BackupRefused(f"site {site.url} is {site.status}; it cannot be backed up")
    refuse_inactive_tenant(site, BackupRefused)
    existing = BackupJob.objects.filter(site=site, status__in=ACTIVE_STATUSES).first()
    if existing is not None:
        return existing, False
    base = (
        Snapshot.objects.filter(site=site, status=Snapshot.Status.COMPLETE)
        .order_by(*newest_first())
        .first()
    )
    effective = kind if base is not None else BackupJob.Kind.FULL
    changes_since = None
    if effective == BackupJob.Kind.INCREMENTAL:
        changes_since = base.started_at - timedelta(minutes=conf.overlap_minutes())
    try:
        with transaction.atomic():
            job = BackupJob.objects.create(
                site=site,
                kind=effective,
                requested_kind=kind,
                requested_by=acting_user if getattr(acting_user, "pk", None) else None,
                base_snapshot=base if effective == BackupJob.Kind.INCREMENTAL else None,
                changes_since=changes_since,
            )
            record_event(
                actor=acting_user,
                action="backup.job_enqueued",
                target=job,
                tenant=site.tenant,
                summary={"site": site.cloud_id, "kind": effective, "requested": kind},
            )
            _enqueue(job.pk)
    except IntegrityError:
        # Another request created the site's active job between our check and insert.
        existing = BackupJob.objects.filter(site=site, status__in=ACTIVE_STATUSES).first()
        if existing is None:
            raise
        return existing, False
    return job, True


def refuse_inactive_tenant(site: JiraSite, refused: type[Exception]) -> None:
    """Jobs of a suspended (or offboarded) tenant are refused where they are enqueued (and
    stopped where they run: ``backups.jobs.driver.check_tenant``)."""
    tenant = Tenant.objects.only("status", "status_reason").get(pk=site.tenant_id)
    if tenant.status != Tenant.Status.ACTIVE:
        detail = f" ({tenant.status_reason})" if tenant.status_reason else ""
        raise refused(f"the tenant is {tenant.status}{detail}; no job is started for it")


def backup_job_cancel(*, job: BackupJob, acting_user: Any, reason: str = "") -> BackupJob:
    with transaction.atomic():
        if leases.cancel(job, active=ACTIVE_STATUSES, reason=reason):
            record_event(
                actor=acting_user,
                action="backup.job_cancelled",
                target=job,
                tenant=job.site.tenant,
                summary={"reason": reason[:200]},
            )
    job.refresh_from_db()
    return job


def backup_job_resume(*, job: BackupJob, acting_user: Any) -> BackupJob:
    """Resume a job paused for re-authorization (after the customer authorized again)."""
    with transaction.atomic():
        if leases.requeue_paused(job):
            record_event(
                actor=acting_user,
                action="backup.job_resumed",
                target=job,
                tenant=job.site.tenant,
                summary={},
            )
            _enqueue(job.pk)
    job.refresh_from_db()
    return job


def backup_jobs_reap(*, now: datetime | None = None) -> list[int]:
    """Re-queue running jobs whose lease expired (their worker died) and queued jobs whose
    message was lost; resume paused jobs whose site can be reached again. Returns job ids."""
    now = now or timezone.now()
    requeued: list[int] = []
    stale = BackupJob.objects.filter(
        status=BackupJob.Status.RUNNING, lease_expires_at__lt=now
    ).exclude(not_before__gt=now)
    for job_id in stale.values_list("pk", flat=True):
        requeued.append(job_id)
    forgotten = BackupJob.objects.filter(
        status=BackupJob.Status.QUEUED,
        created_at__lt=now - timedelta(seconds=conf.lease_seconds()),
        lease_expires_at__isnull=True,
    )
    requeued.extend(forgotten.values_list("pk", flat=True))
    for job_id in requeued:
        _enqueue(job_id)
    for job in BackupJob.objects.filter(status=BackupJob.Status.PAUSED_NEEDS_REAUTH).select_related(
        "site"
    ):
        if _site_usable(job.site):
            backup_job_resume(job=job, acting_user=None)
            requeued.append(job.pk)
    return requeued


def _site_usable(site: JiraSite) -> bool:
    from django.utils.module_loading import import_string

    try:
        client = import_string(conf.client_factory())(site)
    except Exception:  # noqa: BLE001 - any refusal means "not yet"
        return False
    client.close()
    return True


def schedules_enqueue_due(*, now: datetime | None = None, budget: Any = None) -> list[int]:
    """Enqueue the enabled schedules that are due, the most overdue first (the oldest last
    success plus interval; never backed up first), as far as each pool's hour has room for
    scheduled work (``PointsBudget.try_spend``'s ceiling, less what is reserved this hour):
    a run whose estimated cost (from its schedule's history) does not fit stays due for a
    later beat — except that a pool with room always starts its most overdue run, and a run
    with no history yet (a first backup, cost unknown) starts whenever its pool has room: a
    large site's first full backup is spread over the hours with room, the job driver
    admitting it unit by unit within its tenant's share. Returns the job ids created."""
    from atlassian.ratelimit import default_budget, hour_start, interactive_reserve

    now = now or timezone.now()
    budget = budget or default_budget()
    created: list[int] = []
    due = list(
        BackupSchedule.objects.filter(enabled=True)
        .filter(Q(next_run_at__isnull=True) | Q(next_run_at__lte=now))
        .select_related("site", "site__tenant")
    )
    floor = datetime.min.replace(tzinfo=now.tzinfo)
    due.sort(
        key=lambda s: (
            (s.last_success_at + timedelta(hours=s.interval_hours)) if s.last_success_at else floor,
            s.pk,
        )
    )
    hour = hour_start(conf.clock())
    room: dict[str, float] = {}
    started: set[str] = set()
    for schedule in due:
        pool = schedule.pool or GLOBAL_POOL
        if pool not in room:
            limit = budget.limit_for(pool)
            reserved, spent = budget.usage(pool, hour=hour)
            room[pool] = limit - interactive_reserve(limit) - max(reserved, spent)
        cost = schedule.points_per_hour_estimate * schedule.interval_hours
        if room[pool] <= 0 or (cost > room[pool] and pool in started):
            continue  # stays due: a later beat, when the pool's hour has room
        last_full = (
            # A real full: a compacted one re-reads nothing from Jira.
            Snapshot.objects.filter(
                site=schedule.site, kind=BackupJob.Kind.FULL, compacted_from=None
            )
            .order_by("-completed_at")
            .values_list("completed_at", flat=True)
            .first()
        )
        kind = BackupJob.Kind.INCREMENTAL
        if last_full is None or last_full < now - timedelta(days=schedule.full_every_days):
            kind = BackupJob.Kind.FULL
        try:
            job, was_created = backup_job_enqueue(site=schedule.site, kind=kind, acting_user=None)
        except BackupRefused:
            was_created = False
        if was_created:
            created.append(job.pk)
            room[pool] -= cost
            started.add(pool)
        BackupSchedule.objects.filter(pk=schedule.pk).update(
            next_run_at=now + timedelta(hours=schedule.interval_hours), last_enqueued_at=now
        )
    return created


def snapshot_verify(*, snapshot: Snapshot, deep: bool = False, acting_user: Any = None) -> list:
    """Verify a snapshot's stored objects (quick or deep); records when and what was found."""
    from backups.snapshots.verify import verify_snapshot

    problems = verify_snapshot(snapshot.site.cloud_id, str(snapshot.id), deep=deep)
    Snapshot.objects.filter(pk=snapshot.pk).update(
        last_verified_at=timezone.now(), last_verify_problems=[str(p) for p in problems][:100]
    )
    return problems


# ----------------------------------------------------------------- schedule estimates

# The quota planner's estimate: mean points of the complete incremental snapshots of the last
# ESTIMATE_LOOKBACK per interval, plus the mean of the full ones of the last FULL_LOOKBACK per
# full_every_days (ops.quota reads it from the schedule).
ESTIMATE_LOOKBACK = timedelta(days=14)
FULL_LOOKBACK = timedelta(days=92)
# A site is overdue when its newest complete snapshot is older than this many intervals.
OVERDUE_INTERVALS = 2


def estimate_points_per_hour(
    *,
    incremental_mean: float | None,
    full_mean: float | None,
    interval_hours: int,
    full_every_days: int,
) -> float:
    per_hour = float(incremental_mean or 0) / max(interval_hours, 1)
    return per_hour + float(full_mean or 0) / (max(full_every_days, 1) * 24)


def schedule_estimates_refresh(*, site_ids=None, now: datetime | None = None) -> int:
    """Recompute ``last_success_at``, ``overdue_at`` and ``points_per_hour_estimate`` of the
    schedules of ``site_ids`` (all schedules when None) from their complete snapshots: one
    grouped query and one bulk UPDATE per 1,000 schedules. Call it inside the transaction that
    changed the snapshots or the schedule. For all schedules (the daily pass) it also repairs
    their copy of the site facts (``schedules_follow_sites``). Returns the number of schedules
    updated."""
    now = now or timezone.now()
    complete = Snapshot.objects.filter(status=Snapshot.Status.COMPLETE).order_by()
    schedules = BackupSchedule.objects.order_by("pk")
    if site_ids is not None:
        site_ids = list(site_ids)
        complete = complete.filter(site_id__in=site_ids)
        schedules = schedules.filter(site_id__in=site_ids)
    stats = {
        row["site_id"]: row
        for row in complete.values("site_id").annotate(
            incremental=Avg(
                "points_spent",
                filter=Q(
                    kind=BackupJob.Kind.INCREMENTAL, completed_at__gte=now - ESTIMATE_LOOKBACK
                ),
            ),
            full=Avg(
                "points_spent",
                filter=Q(
                    kind=BackupJob.Kind.FULL,
                    compacted_from=None,
                    completed_at__gte=now - FULL_LOOKBACK,
                ),
            ),
            newest=Max("completed_at"),
        )
    }
    fields = ["last_success_at", "overdue_at", "points_per_hour_estimate"]
    batch, updated = [], 0
    for schedule in schedules.only("pk", "site_id", "interval_hours", "full_every_days").iterator(
        1000
    ):
        row = stats.get(schedule.site_id, {})
        newest = row.get("newest")
        schedule.last_success_at = newest
        schedule.overdue_at = (
            newest + timedelta(hours=schedule.interval_hours * OVERDUE_INTERVALS)
            if newest
            else None
        )
        schedule.points_per_hour_estimate = estimate_points_per_hour(
            incremental_mean=row.get("incremental"),
            full_mean=row.get("full"),
            interval_hours=schedule.interval_hours,
            full_every_days=schedule.full_every_days,
        )
        batch.append(schedule)
        if len(batch) >= 1000:
            updated += BackupSchedule.objects.bulk_update(batch, fields)
            batch = []
    if batch:
        updated += BackupSchedule.objects.bulk_update(batch, fields)
    if site_ids is None:
        # The daily pass also repairs any copy of the site facts that drifted.
        schedules_follow_sites()
    return updated


# ----------------------------------------------------------------- schedules and their sites


def pool_of(*, cloud_id: str, uses_grant: bool, tier2: Iterable[str] | None = None) -> str:
    """The rate-limit pool a site's backups draw on: the vendor app's global pool, the site's
    own pool on Tier 2 (``tier2``: the Tier 2 cloud ids, read when not given), or the legacy
    pool of its own API token."""
    if not uses_grant:
        return legacy_pool(cloud_id)
    if tier2 is None:
        tier2 = tier2_cloud_ids([cloud_id])
    return tenant_pool(cloud_id) if cloud_id in tier2 else GLOBAL_POOL


def _site_facts(
    *, cloud_id: str, grant_id: Any, status: str, tier2: Iterable[str] | None = None
) -> tuple[str, str]:
    return pool_of(cloud_id=cloud_id, uses_grant=grant_id is not None, tier2=tier2), status


def schedules_follow_sites(*, site_ids: Iterable[int] | None = None) -> int:
    """Copy onto the schedules of ``site_ids`` (all when None) the site facts the quota planner
    filters on: the pool (which follows the site's credential) and the site's status.

    The tenants services call it in the transaction that changed the site (they hold its row
    lock). Rows whose copy already matches are not written; the others are read again under
    the site's row lock before they are written, so this never writes back an older value over
    a concurrent change. Returns the number of schedules updated."""
    rows = BackupSchedule.objects.order_by("pk").values_list(
        "site_id", "pool", "site_status", "site__cloud_id", "site__grant_id", "site__status"
    )
    if site_ids is not None:
        rows = rows.filter(site_id__in=list(site_ids))
    tier2 = set(tier2_cloud_ids())
    stale = [
        site_id
        for site_id, pool, status, cloud_id, grant_id, site_status in rows.iterator(2000)
        if (pool, status)
        != _site_facts(cloud_id=cloud_id, grant_id=grant_id, status=site_status, tier2=tier2)
    ]
    updated = 0
    for start in range(0, len(stale), 1000):
        with transaction.atomic():
            sites = (
                JiraSite.objects.select_for_update()
                .filter(pk__in=stale[start : start + 1000])
                .order_by("pk")
                .values_list("pk", "cloud_id", "grant_id", "status")
            )
            facts = {
                pk: _site_facts(cloud_id=cloud_id, grant_id=grant_id, status=status, tier2=tier2)
                for pk, cloud_id, grant_id, status in sites
            }
            schedules = list(BackupSchedule.objects.filter(site_id__in=facts).only("site_id"))
            for schedule in schedules:
                schedule.pool, schedule.site_status = facts[schedule.site_id]
            updated += BackupSchedule.objects.bulk_update(schedules, ["pool", "site_status"])
    return updated


# What staff may set on a schedule (the rest is kept by the services).
SCHEDULE_SETTINGS = (
    "enabled",
    "interval_hours",
    "full_every_days",
    "next_run_at",
    "keep_last",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "max_age_days",
)


def schedule_settings_check(values: dict[str, Any]) -> None:
    """Raise ``BackupRefused`` for a name that is not a setting or an interval below 1."""
    unknown = sorted(set(values) - set(SCHEDULE_SETTINGS))
    if unknown:
        raise BackupRefused(f"not a schedule setting: {', '.join(unknown)}")
    if values.get("interval_hours", 1) < 1 or values.get("full_every_days", 1) < 1:
        raise BackupRefused("The interval must be at least one hour (and one day for fulls).")


def _audit_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@transaction.atomic
def schedule_create(*, site: JiraSite, acting_user: Any, **settings: Any) -> BackupSchedule:
    """Give ``site`` a backup schedule (``settings``: any of ``SCHEDULE_SETTINGS``, the model's
    defaults otherwise). The schedule starts with the site's pool and status and with its
    estimates computed from the site's existing snapshots."""
    schedule_settings_check(settings)
    # The site's row only: its credential and status cannot move before the copy is written.
    locked = (
        JiraSite.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=site.pk)
    )
    if BackupSchedule.objects.filter(site=locked).exists():
        raise BackupRefused(f"site {locked.url} already has a backup schedule")
    pool, site_status = _site_facts(
        cloud_id=locked.cloud_id, grant_id=locked.grant_id, status=locked.status
    )
    schedule = BackupSchedule.objects.create(
        site=locked, pool=pool, site_status=site_status, **settings
    )
    schedule_estimates_refresh(site_ids=[locked.pk])
    record_event(
        actor=acting_user,
        action="backup.schedule_created",
        target=schedule,
        tenant=locked.tenant,
        summary={
            "site": locked.cloud_id,
            **{name: _audit_value(getattr(schedule, name)) for name in SCHEDULE_SETTINGS},
        },
    )
    schedule.refresh_from_db()
    return schedule


def schedule_update(
    *, schedule: BackupSchedule, acting_user: Any, **changes: Any
) -> BackupSchedule:
    """Change a schedule's settings (``changes``: any of ``SCHEDULE_SETTINGS``); a new interval
    or full-backup period moves its estimate and overdue moment in the same transaction. Values
    equal to the current ones are no change; nothing changed, nothing audited."""
    schedule_settings_check(changes)
    with transaction.atomic():
        locked = (
            BackupSchedule.objects.select_for_update(of=("self",))
            .select_related("site__tenant")
            .get(pk=schedule.pk)
        )
        changed = {k: v for k, v in changes.items() if getattr(locked, k) != v}
        if changed:
            before = {k: _audit_value(getattr(locked, k)) for k in changed}
            for name, value in changed.items():
                setattr(locked, name, value)
            locked.save(update_fields=[*changed, "updated_at"])
            if {"interval_hours", "full_every_days"} & set(changed):
                schedule_estimates_refresh(site_ids=[locked.site_id])
            record_event(
                actor=acting_user,
                action="backup.schedule_changed",
                target=locked,
                tenant=locked.site.tenant,
                summary={
                    "site": locked.site.cloud_id,
                    "before": before,
                    "after": {k: _audit_value(v) for k, v in changed.items()},
                },
            )
    schedule.refresh_from_db()
    return schedule


def schedule_interval_change(
    *,
    schedule: BackupSchedule,
    acting_user: Any,
    interval_hours: int,
    full_every_days: int | None = None,
) -> BackupSchedule:
    """Change a schedule's interval (and optionally its full-backup period); its estimate and
    overdue moment follow in the same transaction."""
    changes: dict[str, Any] = {"interval_hours": interval_hours}
    if full_every_days is not None:
        changes["full_every_days"] = full_every_days
    return schedule_update(schedule=schedule, acting_user=acting_user, **changes)
