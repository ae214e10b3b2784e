"""A real Celery worker on Redis, SIGKILLed twice during a backup: the job still completes, and
its snapshot holds exactly what an uninterrupted run holds (reliability scenario 5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from backups.models import BackupJob, Checkpoint
from backups.services import backup_job_enqueue
from tests.backups.conftest import backup, comparable, connect_site, snapshot_reader

BROKER = "redis://127.0.0.1:6379/13"
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_broker(celery_redis_broker):
    return celery_redis_broker(BROKER)


class Worker:
    def __init__(self, env: dict[str, str], log: Path, name: str = "") -> None:
        self.env = env
        self.log = log
        self.name = name  # a node name of its own, for several workers side by side
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "-P",
                "solo",
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *(["-n", f"{self.name}@%h"] if self.name else []),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


def worker_env(sandbox, broker: str, **extra: str) -> dict[str, str]:
    """The environment of a worker process: this test's database, storage and sandbox."""
    db = connection.settings_dict
    auth = f"{db['USER']}:{db['PASSWORD']}" if db.get("PASSWORD") else db["USER"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "REDIS_URL": "",
        "STORAGE_ROOT": django_settings.STORAGES["default"]["OPTIONS"]["location"],
        **sandbox.settings(),
        **extra,
    }


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_backup_survives_two_worker_sigkills_and_equals_an_uninterrupted_run(
    on_postgres, redis_broker, backup_env, settings, tmp_path
):
    settings.BACKUPS_ISSUE_PAGE_SIZE = 4
    site = connect_site(backup_env, "acme")
    storage_root = django_settings.STORAGES["default"]["OPTIONS"]["location"]
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": BROKER,
        "REDIS_URL": "",
        "STORAGE_ROOT": storage_root,
        "BACKUPS_LEASE_SECONDS": "3",
        "BACKUPS_SLICE_SECONDS": "1",
        "BACKUPS_ISSUE_PAGE_SIZE": "4",
        **backup_env.settings(),
    }
    if db.get("PASSWORD"):
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        )
    worker = Worker(env, tmp_path / "worker.log")
    job, _ = backup_job_enqueue(site=site, kind=BackupJob.Kind.FULL, acting_user=None)
    checkpoints = lambda: Checkpoint.objects.filter(job=job).count()  # noqa: E731
    try:
        for kill_after in (2, 6):
            worker.start()
            wait_for(lambda n=kill_after: checkpoints() >= n, 90, f"{kill_after} checkpoints")
            worker.kill()
            job.refresh_from_db()
            assert job.status == BackupJob.Status.RUNNING
            # Let the dead worker's lease run out; the next worker's start-up reaper takes over.
            wait_for(
                lambda: BackupJob.objects.get(pk=job.pk).lease_expires_at < timezone.now(),
                30,
                "the lease to expire",
            )
        worker.start()
        wait_for(
            lambda: BackupJob.objects.get(pk=job.pk).status != BackupJob.Status.RUNNING,
            180,
            "the job to finish",
        )
    finally:
        worker.stop()
    job.refresh_from_db()
    assert job.status == BackupJob.Status.SUCCEEDED, (
        job.status_reason,
        (tmp_path / "worker.log").read_text()[-3000:],
    )
    assert job.lease_generation >= 3
    interrupted = snapshot_reader(job)
    keys = [r["key"] for r in interrupted.records("issues")]
    assert len(keys) == len(set(keys))  # nothing duplicated

    settings.BACKUPS_ISSUE_PAGE_SIZE = 4
    reference = backup(site, BackupJob.Kind.FULL)
    assert comparable(interrupted) == comparable(snapshot_reader(reference))
