"""A real Celery worker on Redis, SIGKILLed twice during a restore: the restore still completes
and the target holds every issue, comment, worklog, attachment and link exactly once
(reliability scenario 15)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from backups.restore.models import RestoreItem, RestoreJob
from backups.restore.services import restore_job_create
from tests.backups.conftest import backup, connect_site
from tests.backups.test_worker_kill import Worker, wait_for
from tests.restore.test_idempotency import totals_in_sandbox, totals_in_snapshot

BROKER = "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_broker(celery_redis_broker):
    return celery_redis_broker(BROKER)


def test_a_restore_survives_two_worker_sigkills_without_duplicates(
    on_postgres, redis_broker, backup_env, settings, tmp_path
):
    source = connect_site(backup_env, "acme")
    snapshot = backup(source).snapshot
    sb_target = backup_env.state.add_site(
        "bravo", projects=0, issues=0, admins=[backup_env.state.admin]
    )
    sb_target.members.update(backup_env.site("acme").members)
    target = connect_site(backup_env, "bravo", tenant=source.tenant)
    storage_root = django_settings.STORAGES["default"]["OPTIONS"]["location"]
    db = connection.settings_dict
    auth = f"{db['USER']}:{db['PASSWORD']}" if db.get("PASSWORD") else db["USER"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": BROKER,
        "REDIS_URL": "",
        "STORAGE_ROOT": storage_root,
        "BACKUPS_LEASE_SECONDS": "3",
        "BACKUPS_SLICE_SECONDS": "1",
        "RESTORE_SEARCH_SETTLE_SECONDS": "0",
        **backup_env.settings(),
    }
    worker = Worker(env, tmp_path / "worker.log")
    job = restore_job_create(snapshot=snapshot, target_site=target, acting_user=None)
    issues = RestoreItem.objects.filter(kind=RestoreItem.Kind.ISSUE)
    stages = (
        lambda: issues.exclude(state=RestoreItem.State.PENDING).exists(),
        lambda: issues.filter(state=RestoreItem.State.COMPLETE).exists(),
    )
    try:
        for reached in stages:
            worker.start()
            wait_for(reached, 120, "the restore to reach the next stage")
            worker.kill()
            assert RestoreJob.objects.get(pk=job.pk).status == RestoreJob.Status.RUNNING
            wait_for(
                lambda: RestoreJob.objects.get(pk=job.pk).lease_expires_at < timezone.now(),
                30,
                "the lease to expire",
            )
        worker.start()
        wait_for(
            lambda: (
                RestoreJob.objects.get(pk=job.pk).status
                not in (RestoreJob.Status.RUNNING, RestoreJob.Status.QUEUED)
            ),
            240,
            "the restore to finish",
        )
    finally:
        worker.stop()
    job.refresh_from_db()
    assert job.status == RestoreJob.Status.SUCCEEDED, (
        job.status_reason,
        job.errors[:3],
        (tmp_path / "worker.log").read_text()[-3000:],
    )
    assert job.lease_generation >= 3
    restored = totals_in_sandbox(backup_env.site("bravo"))
    expected = totals_in_snapshot(snapshot)
    # Each restored issue carries one history file, attached once despite the kills.
    assert restored.pop("history_files") == expected["issues"]
    assert restored == expected
