"""The job driver's own promises, for both engines: every points reservation is settled whatever
happens (a property checked over seeded random failures), a redelivered "busy" task comes back
when the lease it met expires, and the map gives each failure its row."""

from __future__ import annotations

import random

import pytest
from django.db import DatabaseError
from django.db.models import Sum
from django.utils import timezone

from atlassian.exceptions import (
    ApiBadRequest,
    ApiBadResponse,
    ApiForbidden,
    ApiNotFound,
    ApiRateLimited,
    ApiServerError,
    ApiTimeoutError,
    ApiUnauthorized,
    InvalidGrant,
)
from atlassian.models import PointsUsage
from atlassian.ratelimit import GLOBAL_POOL
from atlassian.retry import RetryPolicy
from backups import tasks
from backups.engine.fairness import share_key
from backups.exceptions import NotReady, ScopeError, SnapshotDamaged, TenantNotActive
from backups.jobs import failures, leases
from backups.restore import tasks as restore_tasks
from tenants.access import jira_client_for_site
from tenants.tokens import SiteNeedsReauthorization, TokenUnavailable


def flaky_client_for_site(site):
    """One quick retry at most: most faults reach the driver."""
    return jira_client_for_site(site, retry=RetryPolicy(base=0.01, cap=0.02, max_retries=1))


def points(pool: str) -> tuple[int, int]:
    """(reserved, spent) of a points pool, over every hour."""
    totals = PointsUsage.objects.filter(pool=pool).aggregate(r=Sum("reserved"), s=Sum("spent"))
    return totals["r"] or 0, totals["s"] or 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_points_reservation_is_settled_whatever_the_units_come_to(engine, settings, seed):
    """Property: with failures drawn at random (5xx, 429, dropped connections, unreadable
    bodies), whether the job succeeds or fails, the points reserved in the pool
    and in the tenant's share equal the points the client really spent."""
    settings.BACKUPS_CLIENT_FACTORY = "tests.backups.test_driver.flaky_client_for_site"
    rng = random.Random(seed)
    settings.BACKUPS_MAX_TRANSIENT_FAILURES = rng.choice([2, 4, 50])
    faults = engine.sandbox.state.faults
    faults.error_rate(
        rng.uniform(0.1, 0.3),
        statuses=(500, 502, 503, 504, 429),
        seed=seed,
        path_prefix=engine.api_prefix,
        retry_after=1,
    )
    faults.drop_connections(rng.randint(0, 3), path_prefix=engine.api_prefix)
    faults.garble_next_responses(rng.randint(0, 3), "truncated", path_prefix=engine.api_prefix)

    share_before, _ = points(share_key(GLOBAL_POOL, engine.site.tenant_id))
    job = engine.run_until_it_ends(engine.start(), max_slices=400)

    assert job.status in (engine.model.Status.SUCCEEDED, engine.model.Status.FAILED)
    failed_slices = [o for o in job.outcomes if o.state != "done"]
    assert failed_slices, "the faults should have reached the driver at least once"
    reserved, spent = points(GLOBAL_POOL)
    assert spent > 0
    assert reserved == spent
    share_reserved, _ = points(share_key(GLOBAL_POOL, engine.site.tenant_id))
    if engine.kind == "restore":
        # Interactive work draws on the pool (its reserve included), never on a share.
        assert share_reserved == share_before
    else:
        assert share_reserved == spent


@pytest.mark.parametrize("redelivered", [True, False])
def test_a_redelivered_task_that_finds_the_job_leased_comes_back_when_the_lease_expires(
    engine, monkeypatch, redelivered
):
    job = engine.start()
    held = leases.claim(engine.model, job.pk)  # the worker that died holding the message
    assert held is not None
    task = tasks.run_backup_job if engine.kind == "backup" else restore_tasks.run_restore_job
    sent = []
    monkeypatch.setattr(task, "apply_async", lambda args, **kw: sent.append((args, kw)))

    state = task.apply(args=(job.pk,), headers={"redelivered": redelivered}).get()

    assert state == "busy"
    if not redelivered:
        assert sent == []  # a duplicate delivery: the live worker re-queues the job itself
        return
    [(args, options)] = sent
    job.refresh_from_db()
    expires_in = (job.lease_expires_at - timezone.now()).total_seconds()
    assert args == (job.pk,)
    assert expires_in < options["countdown"] <= expires_in + 2


def test_a_redelivered_task_of_a_finished_job_is_dropped(engine, monkeypatch):
    job = engine.run_until_it_ends(engine.start())
    task = tasks.run_backup_job if engine.kind == "backup" else restore_tasks.run_restore_job
    sent = []
    monkeypatch.setattr(task, "apply_async", lambda args, **kw: sent.append(args))

    assert task.apply(args=(job.pk,), headers={"redelivered": True}).get() == "busy"
    assert sent == []


@pytest.mark.parametrize(
    ("exc", "action", "reason"),
    [
        (NotReady("search settling", seconds=30), failures.NOT_READY, "search settling"),
        (TenantNotActive("suspended", "unpaid"), failures.STOP, "the tenant is suspended"),
        (
            ApiRateLimited("x", retry_after=900, reason="jira-quota-global-based", pool="g"),
            failures.WAIT,
            "the g pool's hourly quota is used up",
        ),
        (
            ApiRateLimited(
                "x", retry_after=2, reason="jira-burst-based", endpoint="field", method="GET"
            ),
            failures.WAIT,
            "burst limit on GET field",
        ),
        (
            ApiRateLimited("x", retry_after=2, reason="jira-per-issue-on-write"),
            failures.WAIT,
            "writes to one issue are spaced out",
        ),
        (ApiUnauthorized("no"), failures.REAUTH, "needs re-authorization"),
        (InvalidGrant("dead"), failures.REAUTH, "needs re-authorization"),
        (SiteNeedsReauthorization("revoked"), failures.REAUTH, "needs re-authorization: revoked"),
        (
            ApiForbidden("no", endpoint="issue/{key}/worklog", method="POST"),
            failures.PERMISSION,
            "permission missing: WORK_ON_ISSUES",
        ),
        (ApiNotFound("gone"), failures.NOT_FOUND, "gone"),
        (ApiServerError("boom"), failures.TRANSIENT, "ApiServerError: boom"),
        (ApiTimeoutError("slow"), failures.TRANSIENT, "ApiTimeoutError: slow"),
        (ApiBadResponse("html"), failures.TRANSIENT, "ApiBadResponse: html"),
        (TokenUnavailable("down"), failures.TRANSIENT, "TokenUnavailable: down"),
        (DatabaseError("locked"), failures.TRANSIENT, "DatabaseError: locked"),
        (
            SnapshotDamaged([{"sha256": "ab", "problem": "missing"}]),
            failures.FAIL,
            "the snapshot has 1 damaged object(s)",
        ),
        (ScopeError("no project X"), failures.FAIL, "no project X"),
        (ApiBadRequest("bad"), failures.FAIL, "Atlassian refused a request (ApiBadRequest)"),
        (KeyError("id"), failures.FAIL, "internal error: KeyError: 'id'"),
    ],
)
def test_the_map_gives_each_failure_its_row(exc, action, reason):
    failure = failures.classify(exc)
    assert failure.action == action
    assert reason in failure.reason
