"""Every call budgeted, with priorities: nothing reaches Atlassian without the points budget
admitting it, and work a person waits for never waits behind scheduled backups."""

from __future__ import annotations

import pytest

from atlassian import admission
from atlassian.models import PointsUsage
from atlassian.ratelimit import GLOBAL_POOL, PointsBudget, hour_start
from backups.engine.runner import run_job
from backups.models import BackupJob
from backups.restore.executor import run_restore
from backups.restore.models import RestoreJob
from backups.restore.services import restore_job_create
from backups.services import backup_job_enqueue
from tenants.access import jira_client_for_site
from tests.backups.conftest import backup, connect_site
from tests.restore.conftest import empty_site, restore

CLOCK = None


def sandbox_now() -> float:
    """BACKUPS_CLOCK: the sandbox's accelerated clock."""
    return CLOCK.time()


@pytest.fixture
def accelerated(backup_env, settings):
    global CLOCK
    CLOCK = backup_env.state.clock
    settings.BACKUPS_CLOCK = "tests.quota.test_budgeted.sandbox_now"
    settings.RESTORE_SEARCH_SETTLE_SECONDS = 0
    yield backup_env.state.clock
    CLOCK = None


def _jira_requests(sandbox, cloud_id: str) -> int:
    return len(
        [
            r
            for r in sandbox.state.request_log
            if r.site_cloud_id == cloud_id and r.path.startswith("/ex/jira/")
        ]
    )


def test_every_request_atlassian_sees_was_admitted_by_the_budget(acme, backup_env, settings):
    settings.RESTORE_SEARCH_SETTLE_SECONDS = 0
    sandbox = backup_env
    target = empty_site(sandbox, "bravo", tenant=acme.tenant)
    admission.admitted.clear()
    sandbox.state.request_log.clear()

    # Scheduled work: a full backup and an incremental one.
    full = backup(acme)
    assert full.status == "succeeded", full.status_reason
    assert backup(acme, kind="incremental").status == "succeeded"
    # Interactive work: checks a person waits for, and a restore someone started.
    with jira_client_for_site(acme) as client:
        client.myself()
        client.has_permission("ADMINISTER")
    restored = restore(full.snapshot, target)
    assert restored.status == "succeeded", restored.status_reason

    for site in (acme, target):
        sent = _jira_requests(sandbox, site.cloud_id)
        assert sent > 0
        assert admission.admitted[site.cloud_id] == sent, site.url
    # And what was admitted is what was spent: every reservation settled.
    reserved = sum(PointsUsage.objects.filter(pool=GLOBAL_POOL).values_list("reserved", flat=True))
    spent = sum(PointsUsage.objects.filter(pool=GLOBAL_POOL).values_list("spent", flat=True))
    assert reserved == spent > 0


def test_a_request_over_the_budget_is_refused_before_it_is_sent(acme, backup_env, settings):
    settings.ATLASSIAN_TIER1_POINTS_PER_HOUR = 10
    sandbox = backup_env
    sandbox.state.request_log.clear()
    PointsBudget(None).try_spend(GLOBAL_POOL, 10)
    from atlassian.exceptions import BudgetExhausted

    with jira_client_for_site(acme) as client, pytest.raises(BudgetExhausted) as refused:
        client.myself()
    assert refused.value.pool == GLOBAL_POOL
    assert 1 <= refused.value.retry_after <= 60
    assert _jira_requests(sandbox, acme.cloud_id) == 0


def _run_until_handed_back(job_id: int, run, *, max_slices: int = 50):
    outcomes = []
    for _ in range(max_slices):
        outcome = run(job_id, slice_seconds=3600)
        outcomes.append(outcome)
        if outcome.state != "requeue" or outcome.reason == "fair share used":
            return outcomes
    return outcomes


def test_a_customers_restore_begins_within_a_minute_while_backups_saturate_the_pool(
    acme, backup_env, accelerated, settings
):
    sandbox, clock = backup_env, accelerated
    snapshot = backup(acme).snapshot
    target = empty_site(sandbox, "bravo", tenant=acme.tenant)
    globex = connect_site(sandbox, "globex")
    # A small Tier 1 pool; from a fresh hour on, scheduled backups take all they may.
    settings.ATLASSIAN_TIER1_POINTS_PER_HOUR = 600
    settings.ATLASSIAN_INTERACTIVE_RESERVE_PERCENT = 25
    clock.to_next_hour()
    clock.advance(minutes=20)
    clock.freeze()
    jobs = [
        backup_job_enqueue(site=site, kind=BackupJob.Kind.FULL, acting_user=None)[0]
        for site in (acme, globex)
    ]
    for job in jobs:
        outcomes = _run_until_handed_back(job.pk, run_job)
        assert outcomes[-1].reason == "fair share used"
    budget = PointsBudget(None)
    hour = hour_start(clock.time())
    reserved, _ = budget.usage(GLOBAL_POOL, hour=hour)
    # Saturated: no scheduled step fits any more; the reserve (150) is untouched.
    assert 0 < reserved <= 600 - 150
    assert run_job(jobs[0].pk, slice_seconds=3600).reason == "fair share used"

    # The customer starts a restore now.
    started = clock.time()
    sandbox.state.request_log.clear()
    job = restore_job_create(snapshot=snapshot, target_site=target, acting_user=None, enqueue=False)
    first = run_restore(job.pk, slice_seconds=3600)
    job.refresh_from_db()

    assert first.reason != "fair share used"
    assert job.status in (RestoreJob.Status.RUNNING, RestoreJob.Status.SUCCEEDED, "queued")
    to_target = [r for r in sandbox.state.request_log if r.site_cloud_id == target.cloud_id]
    writes = [r for r in to_target if r.method in ("POST", "PUT") and r.status < 400]
    assert writes, "the restore wrote to the target in its first slice"
    assert to_target[0].time - started <= 60
    # The backups are still waiting for their share: the restore did not wait behind them.
    assert run_job(jobs[1].pk, slice_seconds=3600).reason == "fair share used"
    assert BackupJob.objects.get(pk=jobs[1].pk).status == BackupJob.Status.RUNNING
