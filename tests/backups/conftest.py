"""Fixtures for backup tests: a portal site connected (vendor grant) to a sandbox site over real
HTTP, and helpers that run a job to its end and compare a snapshot with the sandbox."""

from __future__ import annotations

import hashlib
import time

import pytest

from backups.engine.runner import run_job
from backups.models import BackupJob
from backups.services import backup_job_enqueue
from backups.snapshots.reader import SnapshotReader
from tests.factories import GrantSiteFactory, JiraSiteFactory, OAuthGrantFactory


@pytest.fixture
def backup_env(sandbox, settings, tmp_path):
    """Settings pointing at the sandbox, with storage in a fresh folder and no Redis."""
    for name, value in sandbox.settings().items():
        setattr(settings, name, value)
    settings.REDIS_URL = ""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }
    from django.core.files.storage import storages

    storages._storages.pop("default", None)
    sandbox.state.request_log.clear()
    yield sandbox
    storages._storages.pop("default", None)


def connect_site(sandbox, name: str = "acme", tenant=None, *, software: bool = False):
    """A JiraSite in our database using a vendor grant whose token the sandbox issued;
    ``software``: the grant carries Jira Software's scopes too (boards, sprints, rank)."""
    from django.conf import settings

    sb_site = sandbox.site(name)
    scope = settings.ATLASSIAN_SCOPES if software else None
    tokens = sandbox.connect(sites=[sb_site], scope=scope)
    extra = {"tenant": tenant} if tenant is not None else {}
    if software:
        extra_grant = {"scopes": settings.ATLASSIAN_SCOPES.split()}
    else:
        extra_grant = {}
    site = JiraSiteFactory(cloud_id=sb_site.cloud_id, name=name, url=sb_site.url, **extra)
    grant = OAuthGrantFactory(
        account_id=f"sandbox-{name}-{sb_site.cloud_id[:8]}",
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        **extra_grant,
    )
    GrantSiteFactory(grant=grant, site=site, in_use=True)
    return site


@pytest.fixture
def acme(backup_env, db):
    return connect_site(backup_env, "acme")


def run_to_end(job: BackupJob, *, max_rounds: int = 500, max_sleep: float = 5.0) -> BackupJob:
    """Run slices of the job in this process until it leaves the active states."""
    for _ in range(max_rounds):
        outcome = run_job(job.pk, slice_seconds=3600)
        job.refresh_from_db()
        if job.status not in (BackupJob.Status.QUEUED, BackupJob.Status.RUNNING):
            return job
        if outcome.state == "requeue":
            time.sleep(min(outcome.countdown, max_sleep))
        elif outcome.state == "busy":
            time.sleep(0.2)
    raise AssertionError(f"job {job.pk} did not finish: {job.status} {job.status_reason}")


def backup(site, kind: str = BackupJob.Kind.FULL) -> BackupJob:
    job, created = backup_job_enqueue(site=site, kind=kind, acting_user=None)
    assert created
    return run_to_end(job)


def snapshot_reader(job: BackupJob) -> SnapshotReader:
    return SnapshotReader.open(job.site.cloud_id, str(job.snapshot_id))


def comparable(reader: SnapshotReader) -> dict:
    """Snapshot content without what legitimately differs between runs."""
    content = reader.content()
    content.pop("issue_index", None)
    return content


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server, in server mode on a free port: S3 over real HTTP."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_bucket(endpoint: str, name: str, monkeypatch) -> str:
    """A fresh bucket on the moto server (test credentials in the environment)."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fast_retry_client_for_site(site):
    """The production factory with millisecond backoff (Retry-After is still honoured)."""
    from atlassian.retry import RetryPolicy
    from tenants.access import jira_client_for_site

    return jira_client_for_site(site, retry=RetryPolicy(base=0.02, cap=0.1, max_retries=6))


@pytest.fixture
def fast_retries(settings):
    settings.BACKUPS_CLIENT_FACTORY = "tests.backups.conftest.fast_retry_client_for_site"


def sandbox_content():
    """The sandbox's own view of issue content: (issue_doc, histories_of, attachment bytes).
    Looked up by name because the sandbox's module layout is still moving."""
    import importlib

    def find(name: str, modules: tuple[str, ...]):
        for module in modules:
            try:
                found = getattr(importlib.import_module(module), name, None)
            except ImportError:
                continue
            if found is not None:
                return found
        raise AssertionError(f"the sandbox no longer offers {name}")

    return (
        find("issue_doc", ("sandbox.content", "sandbox.generator")),
        find("histories_of", ("sandbox.content", "sandbox.generator")),
        find("attachment_content_bytes", ("sandbox.parts", "sandbox.attachments", "sandbox.jira")),
    )


# Every row of the failure map runs once per engine (backup, restore).
from tests.backups.engines import engine  # noqa: E402,F401
