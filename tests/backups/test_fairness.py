"""Fair sharing of one points pool between tenants (Tier 1: one pool for every customer)."""

from __future__ import annotations

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
    budget.try_spend("global", 900)  # other work of the pool this hour

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
