"""Every existing site without a backup schedule gets the vendor's default policy (the
``PROTECTION_*`` settings at the time of the migration): before this, a site connected through
the vendor app or migrated through the wizard got no schedule and was never backed up. Each
schedule's first run is placed in the policy's window; the site is overdue only once that run
and its grace have passed. Audited as ``backup.protection_applied`` (reason ``migration``)."""

from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone

GLOBAL_POOL = "global"  # atlassian.ratelimit.GLOBAL_POOL
OVERDUE_INTERVALS = 2  # backups.services.OVERDUE_INTERVALS


def _window() -> tuple[int, int]:
    start, end = settings.PROTECTION_WINDOW.split("-")
    minutes = [int(p.split(":")[0]) * 60 + int(p.split(":")[1]) for p in (start, end)]
    return minutes[0], minutes[1]


def protect(apps, schema_editor):
    JiraSite = apps.get_model("tenants", "JiraSite")
    BackupSchedule = apps.get_model("backups", "BackupSchedule")
    SiteProtection = apps.get_model("backups", "SiteProtection")
    AuditEvent = apps.get_model("tenants", "AuditEvent")
    ContentType = apps.get_model("contenttypes", "ContentType")
    now = timezone.now()
    start, end = _window()
    length = (end - start) % 1440 or 1440
    interval = settings.PROTECTION_INTERVAL_HOURS
    retention = {
        "keep_last": settings.PROTECTION_KEEP_LAST,
        "keep_daily": settings.PROTECTION_KEEP_DAILY,
        "keep_weekly": settings.PROTECTION_KEEP_WEEKLY,
        "keep_monthly": settings.PROTECTION_KEEP_MONTHLY,
        "max_age_days": settings.PROTECTION_MAX_AGE_DAYS,
    }
    schedule_type, _ = ContentType.objects.get_or_create(
        app_label="backups", model="backupschedule"
    )
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    sites = list(
        JiraSite.objects.filter(backup_schedule__isnull=True, status__in=["active", "needs_reauth"])
        .order_by("pk")
        .values_list("pk", "tenant_id", "cloud_id", "grant_id", "status")
    )
    # Read once: the filter's set shrinks as schedules are created.
    for chunk_start in range(0, len(sites), 1000):
        chunk = sites[chunk_start : chunk_start + 1000]
        schedules, rows, events = [], [], []
        for pk, _tenant_id, cloud_id, grant_id, status in chunk:
            first = midnight + timedelta(minutes=start + (pk * 37) % length)
            while first <= now:
                first += timedelta(days=1)
            schedules.append(
                BackupSchedule(
                    site_id=pk,
                    interval_hours=interval,
                    next_run_at=first,
                    pool=GLOBAL_POOL if grant_id else f"api-token:{cloud_id}",
                    site_status=status,
                    **retention,
                )
            )
            rows.append((pk, first + timedelta(hours=interval * OVERDUE_INTERVALS)))
        BackupSchedule.objects.bulk_create(schedules)
        existing = set(
            SiteProtection.objects.filter(site_id__in=[pk for pk, _ in rows]).values_list(
                "site_id", flat=True
            )
        )
        SiteProtection.objects.bulk_create(
            [
                SiteProtection(site_id=pk, first_due_at=due, policy_applied_at=now)
                for pk, due in rows
                if pk not in existing
            ]
        )
        for schedule, (pk, tenant_id, cloud_id, _grant, _status) in zip(schedules, chunk, strict=True):
            events.append(
                AuditEvent(
                    action="backup.protection_applied",
                    target_content_type=schedule_type,
                    target_object_id=str(schedule.pk),
                    target_repr=f"every {interval} h for site {pk}",
                    tenant_id=tenant_id,
                    summary={
                        "site": cloud_id,
                        "reason": "migration",
                        "interval_hours": interval,
                        "next_run_at": schedule.next_run_at.isoformat(),
                        **retention,
                    },
                )
            )
        AuditEvent.objects.bulk_create(events)


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0011_protection"),
        ("tenants", "0007_changelist_filter_indexes"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(protect, migrations.RunPython.noop)]
