"""A real Celery worker on Redis, SIGKILLed while it writes a roll-back: the roll-back still
completes, every deleted comment is back exactly once, every field as in the snapshot
(reliability scenario 5 for roll-backs)."""

from __future__ import annotations

import os

import pytest
from django.utils import timezone

from backups.rollback.models import RollbackItem, RollbackJob
from backups.rollback.services import rollback_job_create
from sandbox.content import issue_doc
from tests.backups.conftest import snapshot_reader
from tests.backups.test_worker_kill import Worker, wait_for, worker_env
from tests.rollback.conftest import make_bad_change

# The broker the environment gives this test run (each engineer's own Redis database), else 14.
BROKER = os.environ.get("CELERY_BROKER_URL", "").strip() or "redis://127.0.0.1:6379/14"

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_broker(celery_redis_broker):
    return celery_redis_broker(BROKER)


def test_a_roll_back_survives_a_worker_sigkill_without_duplicate_comments(
    on_postgres, redis_broker, backup_env, settings, tmp_path
):
    bad = make_bad_change(backup_env, issues=80, edited=60, comments=20)
    records = {r["key"]: r for r in snapshot_reader(bad.snapshot.job).records("issues")}
    env = worker_env(backup_env, BROKER, BACKUPS_LEASE_SECONDS="3", BACKUPS_SLICE_SECONDS="1")
    worker = Worker(env, tmp_path / "worker.log")
    job = rollback_job_create(
        snapshot=bad.snapshot, changed_from=bad.t1, changed_to=bad.t2, acting_user=None
    )
    items = RollbackItem.objects.filter(job=job)
    try:
        worker.start()
        wait_for(
            lambda: items.filter(state=RollbackItem.State.DONE).exists(),
            120,
            "the roll-back to write its first issues",
        )
        worker.kill()
        assert RollbackJob.objects.get(pk=job.pk).status == RollbackJob.Status.RUNNING
        wait_for(
            lambda: RollbackJob.objects.get(pk=job.pk).lease_expires_at < timezone.now(),
            30,
            "the lease to expire",
        )
        worker.start()
        wait_for(
            lambda: (
                RollbackJob.objects.get(pk=job.pk).status
                not in (RollbackJob.Status.RUNNING, RollbackJob.Status.QUEUED)
            ),
            240,
            "the roll-back to finish",
        )
    finally:
        worker.stop()
    job.refresh_from_db()
    assert job.status == RollbackJob.Status.SUCCEEDED, (
        job.status_reason,
        job.errors[:3],
        (tmp_path / "worker.log").read_text()[-3000:],
    )
    assert job.lease_generation >= 2
    site = backup_env.site("acme")
    for key in bad.edited:
        doc = issue_doc(site, site.issue(key))
        assert len(doc["comments"]) == len(records[key]["comments"]), key
        if key not in bad.summary_after:
            assert doc["fields"]["summary"] == records[key]["fields"]["summary"], key
