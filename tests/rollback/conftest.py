"""Fixtures for roll-back tests: a site backed up, then changed in Jira by a bulk edit between
T1 and T2 and by other edits after T2 (the sandbox's bulk-edit control, over real HTTP)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from backups.rollback import executor
from backups.rollback.executor import run_rollback
from backups.rollback.models import RollbackJob
from backups.rollback.services import rollback_job_create
from tests.backups import conftest as backups_conftest
from tests.backups.conftest import backup, connect_site
from tests.conftest import mfa_client

backup_env = backups_conftest.backup_env
BULK_FIELDS = {
    "summary": "Overwritten by automation",
    "priority": {"name": "Highest"},
    "labels": ["bulk-edited"],
    "customfield_10020": {"value": "Bronze"},
    "description": {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "wiped"}]}],
    },
}


@pytest.fixture(autouse=True)
def _no_crash_hook():
    executor.crash_hook = None
    yield
    executor.crash_hook = None


def run_rollback_to_end(job: RollbackJob, *, max_rounds: int = 500) -> RollbackJob:
    for _ in range(max_rounds):
        outcome = run_rollback(job.pk, slice_seconds=3600)
        job.refresh_from_db()
        if job.status not in (RollbackJob.Status.QUEUED, RollbackJob.Status.RUNNING):
            return job
        if outcome.state in ("requeue", "not_ready"):
            time.sleep(min(outcome.countdown, 2.0))
        elif outcome.state == "busy":
            time.sleep(0.1)
    raise AssertionError(f"roll-back {job.pk} did not finish: {job.status} {job.status_reason}")


def roll_back(snapshot, **kwargs) -> RollbackJob:
    job = rollback_job_create(snapshot=snapshot, acting_user=None, enqueue=False, **kwargs)
    return run_rollback_to_end(job)


@dataclass
class BadChange:
    """What the bulk edit did between T1 and T2, and what came after T2."""

    snapshot: Any
    site: Any
    t1: datetime
    t2: datetime
    edited: list[str]
    deleted_comments: list[dict[str, str]]
    author: str
    # Issues among the edited ones whose summary was changed again after T2 (key -> summary).
    summary_after: dict[str, str]
    # Issues not in the bulk edit, edited after T2 (key -> summary).
    others_after: dict[str, str]


def make_bad_change(sandbox, *, issues: int, edited: int, comments: int) -> BadChange:
    """Back up site acme, then: at T1 < t < T2 a bulk edit of ``edited`` issues (system, custom
    and ADF fields) deleting ``comments`` comments among them; after T2, other edits."""
    sandbox.state.reset(seed="rollback", projects=2, issues=issues)
    site = connect_site(sandbox, "acme")
    job = backup(site)
    assert job.status == "succeeded", job.status_reason
    clock = sandbox.state.clock
    sb_site = sandbox.site("acme")
    author = sorted(a for a in sb_site.members if a not in sb_site.admins)[0]
    clock.advance(minutes=10)
    t1 = clock.now()
    clock.advance(minutes=5)
    result = sandbox.state.bulk_edit(
        "acme",
        count=edited,
        fields=BULK_FIELDS,
        delete_comments=comments,
        author=author,
        seed="bad",
    )
    assert len(result["deleted_comments"]) == comments
    clock.advance(minutes=5)
    t2 = clock.now()
    clock.advance(minutes=10)
    later = result["edited"][: max(1, min(10, edited // 3))]
    for n, key in enumerate(later):
        sandbox.state.bulk_edit("acme", issues=[key], fields={"summary": f"Fixed by hand {n}"})
    others = [i.key for i in sb_site.live_issues() if i.key not in result["edited"]][:10]
    for n, key in enumerate(others):
        sandbox.state.bulk_edit("acme", issues=[key], fields={"summary": f"Unrelated edit {n}"})
    clock.advance(minutes=1)
    return BadChange(
        snapshot=job.snapshot,
        site=site,
        t1=t1,
        t2=t2,
        edited=result["edited"],
        deleted_comments=result["deleted_comments"],
        author=author,
        summary_after={k: f"Fixed by hand {n}" for n, k in enumerate(later)},
        others_after={k: f"Unrelated edit {n}" for n, k in enumerate(others)},
    )


@pytest.fixture
def staff_client(client, db):
    """A superuser who used TOTP in this session (staff reach the admin only with MFA)."""
    from tests.factories import UserFactory

    return mfa_client(UserFactory(username="rollbacker", superuser=True), client)
