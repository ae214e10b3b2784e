"""Fixtures for restore tests: site A (``acme``, backed up) and an empty site B of the same
customer, both connected through the vendor grant to the sandbox over real HTTP."""

from __future__ import annotations

import time

import pytest

from backups.restore import executor
from backups.restore.executor import run_restore
from backups.restore.models import RestoreJob
from backups.restore.services import restore_job_create
from tests.backups import conftest as backups_conftest
from tests.backups.conftest import backup, connect_site
from tests.conftest import mfa_client

# The backup suite's fixtures (sandbox settings, storage in a temporary folder, site acme).
backup_env = backups_conftest.backup_env
acme = backups_conftest.acme
fast_retries = backups_conftest.fast_retries


@pytest.fixture(autouse=True)
def _no_crash_hook(settings):
    settings.RESTORE_SEARCH_SETTLE_SECONDS = 0
    executor.crash_hook = None
    yield
    executor.crash_hook = None


def empty_site(
    sandbox, name: str, *, like: str = "acme", tenant=None, features=None, software=False
):
    """A sandbox site with no projects, whose members are those of ``like`` (same Atlassian
    organisation), connected to our tenant (``software``: with Jira Software's scopes)."""
    site = sandbox.state.add_site(
        name, projects=0, issues=0, admins=[sandbox.state.admin], features=features
    )
    site.members.update(sandbox.site(like).members)
    return connect_site(sandbox, name, tenant=tenant, software=software)


@pytest.fixture
def featured_a(backup_env, db):
    """Site A with workflows, epics, sub-tasks, sprints, ranks and inline images, backed up
    through a grant with Jira Software's scopes."""
    backup_env.state.reset(seed="test", features="all", projects=2, issues=40)
    site = connect_site(backup_env, "acme", software=True)
    job = backup(site)
    assert job.status == "succeeded", job.status_reason
    return job.snapshot


@pytest.fixture
def featured_b(backup_env, featured_a):
    """An empty Jira Software site B of the same customer."""
    return empty_site(
        backup_env, "bravo", tenant=featured_a.site.tenant, features="all", software=True
    )


@pytest.fixture
def snapshot_a(acme):
    job = backup(acme)
    assert job.status == "succeeded", job.status_reason
    return job.snapshot


@pytest.fixture
def site_b(backup_env, acme):
    return empty_site(backup_env, "bravo", tenant=acme.tenant)


def run_restore_to_end(job: RestoreJob, *, max_rounds: int = 500) -> RestoreJob:
    for _ in range(max_rounds):
        outcome = run_restore(job.pk, slice_seconds=3600)
        job.refresh_from_db()
        if job.status not in (RestoreJob.Status.QUEUED, RestoreJob.Status.RUNNING):
            return job
        if outcome.state in ("requeue", "not_ready"):
            time.sleep(min(outcome.countdown, 2.0))
        elif outcome.state == "busy":
            time.sleep(0.1)
    raise AssertionError(f"restore {job.pk} did not finish: {job.status} {job.status_reason}")


def restore(snapshot, target, **kwargs) -> RestoreJob:
    job = restore_job_create(
        snapshot=snapshot, target_site=target, acting_user=None, enqueue=False, **kwargs
    )
    return run_restore_to_end(job)


@pytest.fixture
def staff_client(client, db):
    """A superuser who used TOTP in this session (staff reach the admin only with MFA)."""
    from tests.factories import UserFactory

    return mfa_client(UserFactory(username="restorer", superuser=True), client)
