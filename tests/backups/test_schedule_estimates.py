"""The schedule's last success, overdue moment and points-per-hour estimate are kept at write
time (snapshot commit, pruning, interval change, the daily refresh), and the dashboard's figures
read from them equal the figures computed from scratch from the snapshots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backups.models import BackupJob, BackupSchedule, Snapshot
from backups.retention import prune_site
from backups.services import (
    BackupRefused,
    schedule_estimates_refresh,
    schedule_interval_change,
)
from backups.tasks import refresh_schedule_estimates
from ops import quota
from ops.dashboard import backup_overdue_sites
from tenants.models import AuditEvent
from tests.backups.conftest import backup
from tests.factories import GrantSiteFactory, JiraSiteFactory
from tests.ops.overdue import overdue_from_the_snapshots


def raw_snapshot(site, *, points, kind="incremental", age=timedelta(hours=1), now=None):
    """A snapshot row written WITHOUT the service (to check what a refresh computes)."""
    done = (now or timezone.now()) - age
    return Snapshot.objects.create(
        site=site,
        kind=kind,
        format_version=1,
        manifest_path="x",
        manifest_sha256="0" * 64,
        started_at=done - timedelta(minutes=5),
        completed_at=done,
        points_spent=points,
    )


def test_a_committed_snapshot_sets_the_schedules_last_success_and_estimate(acme):
    BackupSchedule.objects.create(site=acme, interval_hours=6, full_every_days=30)
    job = backup(acme)
    snap = Snapshot.objects.get(pk=job.snapshot_id)
    schedule = BackupSchedule.objects.get(site=acme)
    assert schedule.last_success_at == snap.completed_at
    assert schedule.overdue_at == snap.completed_at + timedelta(hours=12)
    assert snap.points_spent > 0
    assert schedule.points_per_hour_estimate == pytest.approx(snap.points_spent / (30 * 24))


def test_pruning_a_snapshot_takes_it_out_of_the_estimate(acme, backup_env):
    BackupSchedule.objects.create(
        site=acme, keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0, interval_hours=6
    )
    old = backup(acme)
    backup_env.mutate(fraction=0.3, delete=2, site="acme", seed=2)
    new = backup(acme)
    points = dict(Snapshot.objects.values_list("pk", "points_spent"))
    before = BackupSchedule.objects.get(site=acme).points_per_hour_estimate
    assert before == pytest.approx(
        (points[old.snapshot_id] + points[new.snapshot_id]) / 2 / (30 * 24)
    )

    prune_site(site=acme)

    schedule = BackupSchedule.objects.get(site=acme)
    assert schedule.points_per_hour_estimate == pytest.approx(points[new.snapshot_id] / (30 * 24))
    assert schedule.last_success_at == Snapshot.objects.get(pk=new.snapshot_id).completed_at


@pytest.mark.django_db
def test_changing_the_interval_moves_the_estimate_and_the_overdue_moment_and_is_audited():
    site = JiraSiteFactory()
    schedule = BackupSchedule.objects.create(site=site, interval_hours=24)
    snap = raw_snapshot(site, points=480)
    schedule_estimates_refresh(site_ids=[site.pk])
    schedule.refresh_from_db()
    assert schedule.points_per_hour_estimate == pytest.approx(20)

    schedule = schedule_interval_change(schedule=schedule, interval_hours=6, acting_user=None)

    assert schedule.interval_hours == 6
    assert schedule.points_per_hour_estimate == pytest.approx(80)
    assert schedule.overdue_at == snap.completed_at + timedelta(hours=12)
    assert AuditEvent.objects.filter(action="backup.schedule_changed").count() == 1


@pytest.mark.django_db
def test_an_interval_below_one_hour_is_refused_and_nothing_changes():
    schedule = BackupSchedule.objects.create(site=JiraSiteFactory(), interval_hours=24)
    with pytest.raises(BackupRefused):
        schedule_interval_change(schedule=schedule, interval_hours=0, acting_user=None)
    schedule.refresh_from_db()
    assert schedule.interval_hours == 24
    assert not AuditEvent.objects.filter(action="backup.schedule_changed").exists()


@pytest.mark.django_db
def test_the_daily_refresh_drops_snapshots_that_left_the_look_back_window():
    site = JiraSiteFactory()
    BackupSchedule.objects.create(site=site, interval_hours=1)
    raw_snapshot(site, points=100, age=timedelta(days=13, hours=23))
    raw_snapshot(site, points=300, age=timedelta(hours=1))
    schedule_estimates_refresh(site_ids=[site.pk])
    assert BackupSchedule.objects.get(site=site).points_per_hour_estimate == pytest.approx(200)
    # Two days later the old snapshot is outside the 14-day window.
    schedule_estimates_refresh(now=timezone.now() + timedelta(days=2))
    assert BackupSchedule.objects.get(site=site).points_per_hour_estimate == pytest.approx(300)
    assert refresh_schedule_estimates() == 1


@pytest.mark.django_db
def test_the_dashboard_figures_equal_those_computed_from_scratch(settings):
    settings.ATLASSIAN_TIER1_POINTS_PER_HOUR = 300
    settings.ATLASSIAN_TIER2_POINTS_PER_HOUR = 1000
    now = timezone.now()
    grant_sites = [GrantSiteFactory(in_use=True).site for _ in range(6)]
    legacy = [JiraSiteFactory(legacy=True) for _ in range(3)]
    for i, site in enumerate(grant_sites + legacy):
        BackupSchedule.objects.create(site=site, interval_hours=(1, 6, 24)[i % 3])
        for n in range(i % 4):  # some never backed up
            raw_snapshot(site, points=100 * (i + 1) + n, age=timedelta(hours=3 * n + 1), now=now)
            raw_snapshot(site, points=5000 + i, kind=BackupJob.Kind.FULL, age=timedelta(days=20))
    schedule_estimates_refresh(now=now)

    plans, overdue = quota.plan_and_overdue(now=now, legacy_pools_listed=10)

    scratch = {n.schedule_id: n for n in quota.site_needs(now=now)}
    global_need = sum(n.points_per_hour for n in scratch.values() if n.pool == "global")
    by_pool = {p.pool: p for p in plans}
    assert by_pool["global"].need == pytest.approx(global_need)
    assert by_pool["global"].sites == len(grant_sites)
    assert not by_pool["global"].fits
    biggest = sorted(
        (n for n in scratch.values() if n.pool == "global"), key=lambda n: -n.points_per_hour
    )
    moved = by_pool["global"].to_move
    assert [n.schedule_id for n in moved] == [n.schedule_id for n in biggest[: len(moved)]]
    assert [n.points_per_hour for n in moved] == pytest.approx(
        [n.points_per_hour for n in biggest[: len(moved)]]
    )
    for need in scratch.values():
        if need.pool != "global" and need.points_per_hour > 0:
            assert by_pool[need.pool].need == pytest.approx(need.points_per_hour)
    assert overdue == len(overdue_from_the_snapshots(now)) == backup_overdue_sites(now=now).count()
    assert overdue > 0
    # The other overdue multiple (not stored) is computed from the last success instead.
    _plans, overdue_1 = quota.plan_and_overdue(now=now, overdue_intervals=1)
    assert overdue_1 >= overdue
