"""Fair sharing of one points pool between tenants (Tier 1: one pool for every customer)."""

from __future__ import annotations

from datetime import UTC, datetime

from atlassian.ratelimit import PointsBudget
from backups.engine.fairness import admit, settle
from backups.models import BackupJob
from tests.factories import JiraSiteFactory


def test_a_tenant_that_spent_its_share_waits_while_another_tenant_still_runs(db):
    big, small = JiraSiteFactory(), JiraSiteFactory()
    for site in (big, small):
        BackupJob.objects.create(site=site, kind="full", status=BackupJob.Status.RUNNING)
    budget = PointsBudget(None, limit_for=lambda pool: 1000)

    assert admit(pool="global", tenant_id=big.tenant_id, estimate=300, budget=budget) == 0
    wait = admit(pool="global", tenant_id=big.tenant_id, estimate=300, budget=budget)
    assert wait > 0  # 600 would exceed its share of 500

    assert admit(pool="global", tenant_id=small.tenant_id, estimate=300, budget=budget) == 0
    assert budget.usage("global")[0] == 600


def test_the_pool_limit_holds_even_within_a_share(db):
    site = JiraSiteFactory()
    BackupJob.objects.create(site=site, kind="full", status=BackupJob.Status.RUNNING)
    budget = PointsBudget(None, limit_for=lambda pool: 1000)
    budget.try_spend("global", 850)  # other work of the pool this hour
    # Scheduled work stops at 950: the last 5 % are the interactive reserve.
    assert admit(pool="global", tenant_id=site.tenant_id, estimate=200, budget=budget) > 0
    assert admit(pool="global", tenant_id=site.tenant_id, estimate=100, budget=budget) == 0


def test_a_tenant_whose_share_is_smaller_than_one_step_still_gets_one_step_an_hour(db):
    sites = [JiraSiteFactory() for _ in range(4)]
    for site in sites:
        BackupJob.objects.create(site=site, kind="full", status=BackupJob.Status.RUNNING)
    budget = PointsBudget(None, limit_for=lambda pool: 1000)  # share: 250 each

    assert admit(pool="global", tenant_id=sites[0].tenant_id, estimate=400, budget=budget) == 0
    assert admit(pool="global", tenant_id=sites[0].tenant_id, estimate=400, budget=budget) > 0
    assert admit(pool="global", tenant_id=sites[1].tenant_id, estimate=400, budget=budget) == 0
    # The pool (1000) has 200 left: the third tenant's large step must wait for the next hour.
    assert admit(pool="global", tenant_id=sites[2].tenant_id, estimate=400, budget=budget) > 0
    assert budget.usage("global")[0] == 800


def test_settling_gives_back_what_a_step_did_not_spend(db):
    site = JiraSiteFactory()
    BackupJob.objects.create(site=site, kind="full", status=BackupJob.Status.RUNNING)
    budget = PointsBudget(None, limit_for=lambda pool: 1000)

    assert admit(pool="global", tenant_id=site.tenant_id, estimate=600, budget=budget) == 0
    settle(pool="global", tenant_id=site.tenant_id, estimate=600, actual=250, budget=budget)

    assert budget.usage("global")[0] == 250
    assert admit(pool="global", tenant_id=site.tenant_id, estimate=600, budget=budget) == 0


def test_scheduled_work_leaves_the_interactive_reserve_and_interactive_work_takes_it(db, settings):
    settings.ATLASSIAN_INTERACTIVE_RESERVE_PERCENT = 10
    sites = [JiraSiteFactory() for _ in range(2)]
    for site in sites:
        BackupJob.objects.create(site=site, kind="full", status=BackupJob.Status.RUNNING)
    budget = PointsBudget(None, limit_for=lambda pool: 1000)
    # Two tenants' backups fill the pool up to its scheduled ceiling (900).
    for site in sites:
        assert admit(pool="global", tenant_id=site.tenant_id, estimate=450, budget=budget) == 0
    assert admit(pool="global", tenant_id=sites[0].tenant_id, estimate=1, budget=budget) > 0

    # A restore someone started is not held to a share and draws on the reserve at once.
    restore_tenant = JiraSiteFactory().tenant_id
    assert (
        admit(
            pool="global",
            tenant_id=restore_tenant,
            estimate=100,
            budget=budget,
            priority="interactive",
        )
        == 0
    )
    assert budget.usage("global")[0] == 1000
    # The pool itself still holds for everyone.
    assert (
        admit(
            pool="global",
            tenant_id=restore_tenant,
            estimate=1,
            priority="interactive",
            budget=budget,
        )
        > 0
    )


def test_a_tier2_site_has_its_pool_to_itself(db):
    from atlassian.models import PoolQuota
    from atlassian.pools import tenant_pool

    big, other = JiraSiteFactory(), JiraSiteFactory()
    PoolQuota.objects.create(cloud_id=big.cloud_id, points_per_hour=1000, source="admin")
    for site in (big, other):
        BackupJob.objects.create(site=site, kind="full", status=BackupJob.Status.RUNNING)
    budget = PointsBudget(None, limit_for=lambda pool: 1000)
    pool = tenant_pool(big.cloud_id)
    # One tenant on its own pool: its share is the whole pool (short of the reserve).
    assert admit(pool=pool, tenant_id=big.tenant_id, estimate=900, budget=budget) == 0
    assert budget.usage(pool)[0] == 900
    assert budget.usage("global")[0] == 0


TOP_OF_THE_HOUR = 1_800_000_000.0  # 2027-01-15 08:00 UTC


def top_of_the_hour() -> float:
    return TOP_OF_THE_HOUR


def half_past_the_next() -> float:
    return TOP_OF_THE_HOUR + 5400


def test_a_full_backup_leaves_the_pools_incremental_floors_to_the_incrementals(db, settings):
    from backups.models import BackupSchedule
    from backups.services import schedule_create

    settings.BACKUPS_CLOCK = "tests.backups.test_fairness.top_of_the_hour"

    big, small = JiraSiteFactory(), JiraSiteFactory()
    for site in (big, small):
        schedule_create(site=site, acting_user=None)
    # The pool's schedules need 300 points an hour (their incremental floors).
    BackupSchedule.objects.update(pool="global", points_per_hour_estimate=150)
    BackupJob.objects.create(site=big, kind="full", status=BackupJob.Status.RUNNING)
    budget = PointsBudget(None, limit_for=lambda pool: 1000)  # 950 for scheduled work

    # The full backup's steps stop at 950 - 300 = 650 ...
    assert (
        admit(pool="global", tenant_id=big.tenant_id, estimate=600, budget=budget, full=True) == 0
    )
    assert admit(pool="global", tenant_id=big.tenant_id, estimate=100, budget=budget, full=True) > 0
    # ... so an incremental that comes due later in the hour still finds its points.
    BackupJob.objects.create(site=small, kind="incremental", status=BackupJob.Status.RUNNING)
    assert admit(pool="global", tenant_id=small.tenant_id, estimate=300, budget=budget) == 0

    # Half way through an hour, only half of the floors are still held back (950 - 150).
    settings.BACKUPS_CLOCK = "tests.backups.test_fairness.half_past_the_next"
    assert (
        admit(pool="global", tenant_id=big.tenant_id, estimate=700, budget=budget, full=True) == 0
    )
    assert budget.usage("global", hour=datetime.fromtimestamp(half_past_the_next(), UTC))[0] == 700
