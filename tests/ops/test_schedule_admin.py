"""Staff edit backup schedules in the admin through the backup services: a new schedule starts
with its site's pool, status and estimate; an interval change moves the estimate and the overdue
moment; both are audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from backups.models import BackupSchedule
from backups.services import schedule_create
from tenants.models import AuditEvent
from tests.factories import GrantSiteFactory
from tests.ops.test_dashboard import snapshot


def form_data(**overrides) -> dict:
    data = {
        "enabled": "on",
        "interval_hours": "24",
        "full_every_days": "30",
        "next_run_at_0": "",
        "next_run_at_1": "",
        "keep_last": "7",
        "keep_daily": "14",
        "keep_weekly": "8",
        "keep_monthly": "12",
        "max_age_days": "0",
    }
    return {**data, **overrides}


@pytest.fixture
def backed_up_site(db):
    """A site on the vendor grant with one snapshot of 480 points, taken an hour ago."""
    site = GrantSiteFactory(in_use=True).site
    snapshot(site, points=480)
    return site


def test_a_schedule_added_in_the_admin_starts_with_its_sites_pool_and_estimate(
    superuser_client, backed_up_site
):
    url = reverse("admin:backups_backupschedule_add")

    response = superuser_client.post(url, form_data(site=str(backed_up_site.pk)))

    assert response.status_code == 302, response.context["adminform"].form.errors
    schedule = BackupSchedule.objects.get(site=backed_up_site)
    assert (schedule.pool, schedule.site_status) == ("global", "active")
    assert schedule.points_per_hour_estimate == pytest.approx(480 / 24)
    assert schedule.overdue_at is not None
    event = AuditEvent.objects.get(action="backup.schedule_created")
    assert event.actor_id == superuser_client.user.pk


def test_an_interval_change_in_the_admin_moves_the_estimate_and_is_audited(
    superuser_client, backed_up_site
):
    schedule = schedule_create(site=backed_up_site, acting_user=None, interval_hours=24)
    url = reverse("admin:backups_backupschedule_change", args=[schedule.pk])

    response = superuser_client.post(url, form_data(interval_hours="6", keep_last="3"))

    assert response.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.interval_hours, schedule.keep_last) == (6, 3)
    assert schedule.points_per_hour_estimate == pytest.approx(480 / 6)
    assert schedule.overdue_at == schedule.last_success_at + timedelta(hours=12)
    event = AuditEvent.objects.get(action="backup.schedule_changed")
    assert event.actor_id == superuser_client.user.pk
    assert event.summary["before"] == {"interval_hours": 24, "keep_last": 7}
    assert event.summary["after"] == {"interval_hours": 6, "keep_last": 3}


def test_saving_the_admin_form_unchanged_writes_no_audit_event(superuser_client, backed_up_site):
    schedule = schedule_create(site=backed_up_site, acting_user=None, interval_hours=24)
    url = reverse("admin:backups_backupschedule_change", args=[schedule.pk])

    assert superuser_client.post(url, form_data()).status_code == 302

    assert not AuditEvent.objects.filter(action="backup.schedule_changed").exists()


@pytest.mark.parametrize("field", ["interval_hours", "full_every_days"])
def test_an_interval_of_zero_is_refused_by_the_admin_form(superuser_client, backed_up_site, field):
    schedule = schedule_create(site=backed_up_site, acting_user=None, interval_hours=24)
    url = reverse("admin:backups_backupschedule_change", args=[schedule.pk])

    response = superuser_client.post(url, form_data(**{field: "0"}))

    assert response.status_code == 200 and response.context["adminform"].form.errors
    schedule.refresh_from_db()
    assert (schedule.interval_hours, schedule.full_every_days) == (24, 30)
    assert not AuditEvent.objects.filter(action="backup.schedule_changed").exists()
