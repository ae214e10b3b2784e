"""Several workers: three Celery worker processes share the backups — one site's backup, then two
tenants' backups at once — on Redis, and once on RabbitMQ. Each job commits one correct snapshot
(equal to an in-process backup of the same site), and each tenant's share of the points pool holds
exactly what its jobs spent, across the processes (issue 21)."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from atlassian.models import CallStat
from atlassian.ratelimit import default_budget, default_pool_limit, hour_start
from backups.engine.fairness import share_key
from backups.models import BackupJob, Snapshot
from backups.services import backup_job_enqueue
from tests.backups.conftest import backup, comparable, connect_site, snapshot_reader
from tests.backups.test_worker_kill import Worker, wait_for, worker_env
from tests.conftest import require

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
RECEIVED = re.compile(r"Task backups\.tasks\.run_backup_job\[[^\]]+\] received")


def _redis_broker_url() -> str:
    # CI gives each checkout its own Redis database for the broker.
    url = os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith("redis://") else "redis://127.0.0.1:6379/13"


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request, celery_redis_broker, monkeypatch):
    """The broker the workers and this process's producer share: Redis, then RabbitMQ."""
    if request.param == "redis":
        url = _redis_broker_url()
        celery_redis_broker(url)
        yield url
        return
    from kombu import Connection

    from portal.celery import app as celery_app

    with Connection(RABBITMQ, connect_timeout=2) as conn:
        try:
            conn.ensure_connection(max_retries=1)
        except Exception:  # noqa: BLE001 - any failure means "not there"
            require(False, "this test needs RabbitMQ at 127.0.0.1:5672 (guest/guest, vhost /)")
        conn.SimpleQueue("celery").clear()  # nothing left from an earlier run
    monkeypatch.setenv("CELERY_BROKER_URL", RABBITMQ)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    yield RABBITMQ
    monkeypatch.undo()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _received(worker: Worker) -> int:
    return (
        len(RECEIVED.findall(worker.log.read_text(errors="replace"))) if worker.log.exists() else 0
    )


def _ended(*jobs: BackupJob):
    return lambda: all(
        BackupJob.objects.get(pk=j.pk).status not in ("queued", "running") for j in jobs
    )


def _share_and_pool(pool: str, tenant_id: int, since) -> tuple[int, int]:
    """(points reserved in the tenant's share of the pool, in the pool) over the hours since."""
    budget = default_budget()
    share = pool_total = 0
    hour = hour_start(since)
    while hour <= timezone.now():
        share += budget.usage(share_key(pool, tenant_id), hour=hour)[0]
        pool_total += budget.usage(pool, hour=hour)[0]
        hour += timedelta(hours=1)
    return share, pool_total


def test_three_workers_share_one_sites_backup_then_two_tenants_backups(
    broker, on_postgres, backup_env, settings, tmp_path
):
    from tenants.access import jira_client_for_site

    # The points budget the workers share (the backup fixtures leave Redis out by default).
    redis_url = os.environ.get("REDIS_URL", "")
    require(bool(redis_url), "this test needs REDIS_URL (the points the workers share)")
    settings.REDIS_URL = redis_url
    settings.BACKUPS_ISSUE_PAGE_SIZE = 4
    backup_env.state.add_site("bravo", projects=2, issues=24, admins=[backup_env.state.admin])
    acme = connect_site(backup_env, "acme")
    bravo = connect_site(backup_env, "bravo")  # another tenant
    assert acme.tenant_id != bravo.tenant_id
    env = worker_env(
        backup_env,
        broker,
        REDIS_URL=redis_url,
        BACKUPS_SLICE_SECONDS="1",
        BACKUPS_ISSUE_PAGE_SIZE="4",
    )
    workers = [Worker(env, tmp_path / f"worker{n}.log", name=f"w{n}") for n in (1, 2, 3)]
    started = timezone.now()
    try:
        for worker in workers:
            worker.start()
        # One site's backup: its slices go to whichever worker is free.
        first, _ = backup_job_enqueue(site=acme, kind=BackupJob.Kind.FULL, acting_user=None)
        wait_for(_ended(first), 300, "the first backup to end")
        alone = [_received(w) for w in workers]
        # Two tenants' backups at once.
        second, _ = backup_job_enqueue(site=acme, kind=BackupJob.Kind.FULL, acting_user=None)
        other, _ = backup_job_enqueue(site=bravo, kind=BackupJob.Kind.FULL, acting_user=None)
        wait_for(_ended(second, other), 300, "both tenants' backups to end")
    finally:
        for worker in workers:
            worker.stop()
    logs = "\n".join(w.log.read_text(errors="replace")[-2000:] for w in workers)
    jobs = [BackupJob.objects.get(pk=j.pk) for j in (first, second, other)]
    for job in jobs:
        assert job.status == BackupJob.Status.SUCCEEDED, (job.status_reason, logs)
        assert Snapshot.objects.filter(job=job).count() == 1
    assert Snapshot.objects.filter(site=acme).count() == 2
    assert Snapshot.objects.filter(site=bravo).count() == 1
    # The three processes consumed the slices between them (which process takes a slice is the
    # broker's choice: on a quiet machine one free worker may take them all, under load they
    # spread, so only the total is asserted): each job's slices were received, none lost.
    received = [_received(w) for w in workers]
    assert sum(alone) >= 1 and sum(received) >= sum(alone) + 2, (alone, received)
    # The two tenants' jobs ran side by side.
    second, other = jobs[1], jobs[2]
    assert second.started_at < other.finished_at and other.started_at < second.finished_at

    # Shares: each tenant's share of its pool holds every point its calls spent (the call ledger
    # of its site, flushed by the three workers), within the pool's hour.
    for site, jobs_of in ((acme, jobs[:2]), (bravo, jobs[2:])):
        client = jira_client_for_site(site)
        pool = client.pool
        client.close()
        share, pool_total = _share_and_pool(pool, site.tenant_id, started)
        called = CallStat.objects.filter(site_cloud_id=site.cloud_id).aggregate(n=Sum("points"))
        assert share == called["n"] > 0, (site.name, share, called)
        assert sum(j.points_spent for j in jobs_of) <= share
        assert share < pool_total <= default_pool_limit(pool)

    # Correct: each snapshot equals an uninterrupted in-process backup of the same site.
    for job in jobs:
        reference = backup(job.site, BackupJob.Kind.FULL)
        assert comparable(snapshot_reader(job)) == comparable(snapshot_reader(reference))
