"""The protection policy: the vendor default (``PROTECTION_*`` settings) merged with a tenant's
override (``ProtectionPolicy``), and applying it to sites.

Applying gives every live site (active or waiting for re-authorization) that has no backup
schedule one built from its tenant's policy, its first run placed in the preferred window. A
site that already has a schedule keeps it, with its history and snapshot chain: a migrated
site's first backup through the vendor grant is an incremental on its last legacy snapshot
(``backups.services.backup_job_enqueue`` takes the newest complete snapshot as the base,
whatever credential wrote it). To stop a site's backups, disable its schedule (the site then
shows as unprotected); a deleted schedule is given back the next time the site changes.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from backups.exceptions import PolicyRefused
from backups.models import BackupSchedule, ProtectionPolicy, SiteProtection, Snapshot
from backups.services import OVERDUE_INTERVALS, pool_of, schedule_estimates_refresh
from tenants.audit import build_event, record_event
from tenants.models import AuditEvent, JiraSite, Tenant, User

# Sites a schedule is given to: not disconnected (nothing to back up) nor offboarded.
LIVE = (JiraSite.Status.ACTIVE, JiraSite.Status.NEEDS_REAUTH)
RETENTION = ("keep_last", "keep_daily", "keep_weekly", "keep_monthly", "max_age_days")


@dataclass(frozen=True)
class Policy:
    interval_hours: int
    window_start_minute: int
    window_end_minute: int
    keep_last: int
    keep_daily: int
    keep_weekly: int
    keep_monthly: int
    max_age_days: int
    notify_admins: bool
    notify_emails: tuple[str, ...] = field(default_factory=tuple)
    weekly_report: bool = False

    @property
    def window(self) -> str:
        return f"{_hhmm(self.window_start_minute)}-{_hhmm(self.window_end_minute)} UTC"

    def schedule_settings(self) -> dict[str, int]:
        return {"interval_hours": self.interval_hours, **{k: getattr(self, k) for k in RETENTION}}


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_window(value: str) -> tuple[int, int]:
    """``"01:00-05:00"`` → (60, 300) minutes after midnight UTC."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise PolicyRefused(f"{value!r} is not a window like 01:00-05:00") from None
    return start.hour * 60 + start.minute, end.hour * 60 + end.minute


def vendor_default() -> Policy:
    start, end = parse_window(settings.PROTECTION_WINDOW)
    return Policy(
        interval_hours=settings.PROTECTION_INTERVAL_HOURS,
        window_start_minute=start,
        window_end_minute=end,
        keep_last=settings.PROTECTION_KEEP_LAST,
        keep_daily=settings.PROTECTION_KEEP_DAILY,
        keep_weekly=settings.PROTECTION_KEEP_WEEKLY,
        keep_monthly=settings.PROTECTION_KEEP_MONTHLY,
        max_age_days=settings.PROTECTION_MAX_AGE_DAYS,
        notify_admins=settings.PROTECTION_NOTIFY_ADMINS,
        weekly_report=settings.PROTECTION_WEEKLY_REPORT,
    )


OVERRIDABLE = (
    "interval_hours",
    "window_start_minute",
    "window_end_minute",
    *RETENTION,
    "notify_admins",
    "weekly_report",
)


def merge(default: Policy, override: ProtectionPolicy | None) -> Policy:
    if override is None:
        return default
    values = asdict(default)
    for name in OVERRIDABLE:
        value = getattr(override, name)
        if value is not None:
            values[name] = value
    values["notify_emails"] = tuple(override.notify_emails or ())
    return Policy(**values)


def policy_for(tenant: Tenant | int) -> Policy:
    tenant_id = tenant.pk if isinstance(tenant, Tenant) else tenant
    return merge(vendor_default(), ProtectionPolicy.objects.filter(tenant_id=tenant_id).first())


def policies_for(tenant_ids: Iterable[int]) -> dict[int, Policy]:
    """The policies of many tenants in one query."""
    default = vendor_default()
    overrides = {p.tenant_id: p for p in ProtectionPolicy.objects.filter(tenant_id__in=tenant_ids)}
    return {tid: merge(default, overrides.get(tid)) for tid in tenant_ids}


def first_run_at(policy: Policy, *, site_key: str, now: datetime) -> datetime:
    """The next start inside the window, spread over it by a stable hash of the site's key (its
    cloud id) so a batch of sites connected together does not start at the same minute, and the
    same site lands on the same minute whatever its row's id (imports, re-connections)."""
    start, end = policy.window_start_minute, policy.window_end_minute
    length = (end - start) % 1440 or 1440
    offset = zlib.crc32(site_key.encode()) % length
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    candidate = midnight + timedelta(minutes=start + offset)
    while candidate <= now:
        candidate += timedelta(days=1)
    # Not later than the window's next occurrence plus a day: within 24 h of now.
    return candidate


# ----------------------------------------------------------------------------- applying


def protection_apply(
    *, site_ids: Iterable[int], reason: str, acting_user: User | None = None
) -> list[int]:
    """Give each live site of ``site_ids`` without a schedule its tenant's policy; the caller's
    transaction (``tenants.signals.sites_changed``: the sites' rows are locked). One query to
    find them, one bulk INSERT of schedules and one of audit events, whatever their number.
    Returns the ids of the sites given a schedule."""
    now = timezone.now()
    sites = list(
        JiraSite.objects.filter(
            pk__in=list(site_ids), status__in=LIVE, backup_schedule__isnull=True
        )
        .exclude(grant__isnull=True, legacy_credential__isnull=True)
        .select_related("tenant")
        .order_by("pk")
    )
    if not sites:
        return []
    policies = policies_for({s.tenant_id for s in sites})
    schedules = []
    for site in sites:
        policy = policies[site.tenant_id]
        schedules.append(
            BackupSchedule(
                site=site,
                next_run_at=first_run_at(policy, site_key=site.cloud_id, now=now),
                pool=pool_of(cloud_id=site.cloud_id, uses_grant=site.grant_id is not None),
                site_status=site.status,
                **policy.schedule_settings(),
            )
        )
    BackupSchedule.objects.bulk_create(schedules)
    ids = [s.pk for s in sites]
    # A schedule starts with no success and no estimate, which is right unless the site was
    # backed up before (a schedule deleted and given back): only those are computed.
    backed_up = set(
        Snapshot.objects.filter(site_id__in=ids, status=Snapshot.Status.COMPLETE)
        .order_by()
        .values_list("site_id", flat=True)
        .distinct()
    )
    if backed_up:
        schedule_estimates_refresh(site_ids=backed_up, now=now)
    _mark_applied(schedules, now=now)
    AuditEvent.objects.bulk_create(
        [
            build_event(
                actor=acting_user,
                action="backup.protection_applied",
                target=schedule,
                tenant=schedule.site.tenant,
                summary={
                    "site": schedule.site.cloud_id,
                    "reason": reason,
                    "interval_hours": schedule.interval_hours,
                    "next_run_at": schedule.next_run_at.isoformat(),
                    **{k: getattr(schedule, k) for k in RETENTION},
                },
            )
            for schedule in schedules
        ]
    )
    return ids


def _mark_applied(schedules: list[BackupSchedule], *, now: datetime) -> None:
    """A site given a schedule is overdue only once its first window and grace have passed."""
    due = {
        s.site_id: s.next_run_at + timedelta(hours=s.interval_hours * OVERDUE_INTERVALS)
        for s in schedules
    }
    existing = {row.site_id: row for row in SiteProtection.objects.filter(site_id__in=list(due))}
    new = []
    for site_id, first_due in due.items():
        row = existing.get(site_id)
        if row is None:
            new.append(
                SiteProtection(site_id=site_id, first_due_at=first_due, policy_applied_at=now)
            )
        else:
            row.first_due_at, row.policy_applied_at = first_due, now
    SiteProtection.objects.bulk_create(new)
    SiteProtection.objects.bulk_update(
        list(existing.values()), ["first_due_at", "policy_applied_at"]
    )


# ----------------------------------------------------------------------------- a tenant's override


def _clean_override(values: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - {*OVERRIDABLE, "window", "notify_emails"})
    if unknown:
        raise PolicyRefused(f"not a policy setting: {', '.join(unknown)}")
    cleaned = dict(values)
    window = cleaned.pop("window", None)
    if window is not None:
        if window == "":
            cleaned["window_start_minute"] = cleaned["window_end_minute"] = None
        else:
            cleaned["window_start_minute"], cleaned["window_end_minute"] = parse_window(window)
    if cleaned.get("interval_hours") is not None and cleaned["interval_hours"] < 1:
        raise PolicyRefused("The interval must be at least one hour.")
    if cleaned.get("keep_last") is not None and cleaned["keep_last"] < 1:
        raise PolicyRefused("Keep at least the newest snapshot (keep_last ≥ 1).")
    emails = cleaned.get("notify_emails")
    if emails is not None:
        emails = [e.strip().lower() for e in emails if e and e.strip()]
        for email in emails:
            try:
                validate_email(email)
            except ValidationError:
                raise PolicyRefused(f"{email!r} is not an e-mail address") from None
        cleaned["notify_emails"] = sorted(set(emails))
    return cleaned


def protection_policy_set(
    *, tenant: Tenant, acting_user: User | None, apply_to_schedules: bool = False, **values: Any
) -> ProtectionPolicy:
    """Set a tenant's override (``None`` or ``""``: back to the vendor default for that field;
    ``window="HH:MM-HH:MM"``). With ``apply_to_schedules`` the tenant's existing schedules take
    the new interval and retention too (each change audited by the schedule service)."""
    from backups.services import schedule_update

    cleaned = _clean_override(values)
    with transaction.atomic():
        policy, _ = ProtectionPolicy.objects.select_for_update().get_or_create(tenant=tenant)
        before = {k: getattr(policy, k) for k in cleaned}
        for name, value in cleaned.items():
            setattr(policy, name, value)
        try:
            policy.full_clean(exclude=["tenant"])
        except ValidationError as exc:
            raise PolicyRefused("; ".join(exc.messages)) from None
        policy.save()
        record_event(
            actor=acting_user,
            action="backup.protection_policy_changed",
            target=policy,
            tenant=tenant,
            summary={"before": before, "after": cleaned},
        )
        if apply_to_schedules:
            effective = policy_for(tenant)
            for schedule in BackupSchedule.objects.filter(site__tenant=tenant):
                schedule_update(
                    schedule=schedule, acting_user=acting_user, **effective.schedule_settings()
                )
    return policy
