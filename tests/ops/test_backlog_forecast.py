"""Scheduling to the quota: the most overdue first, as far as the pool's hour has room; the
planner's backlog per pool, the hours to clear it, and the sites that will miss their window
(the dashboard's warning and ``quota_plan``)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from atlassian.ratelimit import GLOBAL_POOL
from backups.models import BackupJob, BackupSchedule
from backups.services import schedule_create, schedules_enqueue_due
from ops.quota import forecast
from tests.factories import JiraSiteFactory

DASHBOARD = "admin:ops_operations_changelist"


def _schedule(*, last_success_hours_ago, points_per_hour, due=True, now):
    site = JiraSiteFactory()
    schedule = schedule_create(site=site, acting_user=None)
    last = now - timedelta(hours=last_success_hours_ago) if last_success_hours_ago else None
    BackupSchedule.objects.filter(pk=schedule.pk).update(
        pool=GLOBAL_POOL,
        last_success_at=last,
        points_per_hour_estimate=points_per_hour,
        next_run_at=now - timedelta(minutes=5) if due else now + timedelta(hours=5),
    )
    return site


def test_the_most_overdue_runs_first_and_only_as_far_as_the_hour_has_room(db, settings):
    settings.ATLASSIAN_TIER1_POINTS_PER_HOUR = 1000  # 950 for scheduled work
    now = timezone.now()
    # Each run costs 20 x 24 = 480 points: two fit the hour's room, a third does not.
    late = _schedule(last_success_hours_ago=30, points_per_hour=20, now=now)
    later = _schedule(last_success_hours_ago=40, points_per_hour=20, now=now)
    fresh = _schedule(last_success_hours_ago=25, points_per_hour=20, now=now)

    created = schedules_enqueue_due(now=now)

    started = list(BackupJob.objects.filter(pk__in=created).values_list("site_id", flat=True))
    assert started == [later.pk]  # 40 h late first; 480 + 480 > 950: the next one waits
    waiting = BackupSchedule.objects.filter(site__in=[late, fresh])
    assert all(s.next_run_at <= now for s in waiting)  # still due, for a later beat
    # Once the first run is done, the next most overdue goes, then the last.
    BackupJob.objects.filter(pk__in=created).update(status=BackupJob.Status.SUCCEEDED)
    assert BackupJob.objects.get(pk=schedules_enqueue_due(now=now)[0]).site_id == late.pk


def test_a_first_backup_starts_whenever_its_pool_has_room(db, settings):
    settings.ATLASSIAN_TIER1_POINTS_PER_HOUR = 1000
    now = timezone.now()
    _schedule(last_success_hours_ago=30, points_per_hour=20, now=now)
    new = _schedule(last_success_hours_ago=None, points_per_hour=0, now=now)

    created = schedules_enqueue_due(now=now)

    assert set(BackupJob.objects.filter(pk__in=created).values_list("site_id", flat=True)) >= {
        new.pk
    }


@pytest.fixture
def backlog(db, settings):
    settings.ATLASSIAN_TIER1_POINTS_PER_HOUR = 1000  # 950 an hour for scheduled work
    now = timezone.now()
    sites = {
        # Each pending run costs 100 x 24 = 2,400 points.
        "soon": _schedule(last_success_hours_ago=23, points_per_hour=100, now=now),
        "later": _schedule(last_success_hours_ago=10, points_per_hour=100, now=now),
        "missed": _schedule(last_success_hours_ago=30, points_per_hour=100, now=now),
        # Not due: its schedule needs 500 points an hour meanwhile.
        "steady": _schedule(last_success_hours_ago=2, points_per_hour=500, due=False, now=now),
    }
    return now, sites


def test_the_planner_forecasts_the_backlog_and_who_will_miss_the_window(backlog):
    now, sites = backlog
    [pool] = forecast(now=now)

    assert pool.pool == GLOBAL_POOL
    assert (pool.capacity, pool.steady_need, pool.spare) == (950, 500, 450)
    assert (pool.runs, pool.backlog_points) == (3, 7200)
    assert pool.hours_to_clear == pytest.approx(16.0)
    # Cleared by deadline: "missed" (deadline passed) first, then "soon" (1 h left, done in
    # 10.7 h: the warning), then "later" (14 h left, done in 16 h).
    assert [s.site_id for s in pool.missed] == [sites["missed"].pk]
    assert [s.site_id for s in pool.will_miss] == [sites["soon"].pk, sites["later"].pk]
    assert pool.will_miss[0].finishes_at == pytest.approx(
        now + timedelta(hours=4800 / 450), abs=timedelta(seconds=1)
    )


def test_the_dashboard_warns_and_the_command_exits_1_before_sites_miss(
    backlog, superuser_client, capsys
):
    _now, sites = backlog
    page = superuser_client.get(reverse(DASHBOARD))
    html = page.content.decode()
    assert 'id="ops-window-warning"' in html
    assert sites["soon"].url in html
    assert "2 sites will miss their backup window" in html

    with pytest.raises(CommandError) as failed:
        call_command("quota_plan", "--format", "json")
    assert failed.value.returncode == 1
    [row] = json.loads(capsys.readouterr().out)
    assert row["pool"] == GLOBAL_POOL
    assert (row["backlog_runs"], row["will_miss"], row["missed"]) == (3, 2, 1)
    assert row["hours_to_clear"] == 16.0

    with pytest.raises(CommandError):
        call_command("quota_plan", "--sites", "--format", "json")
    rows = json.loads(capsys.readouterr().out)
    assert {(r["site"], r["state"]) for r in rows} == {
        (sites["missed"].url, "missed"),
        (sites["soon"].url, "will miss"),
        (sites["later"].url, "will miss"),
    }


def test_the_command_exits_0_when_every_site_is_on_time(db, capsys):
    call_command("quota_plan")
    assert "0 sites will miss their backup window" in capsys.readouterr().out
