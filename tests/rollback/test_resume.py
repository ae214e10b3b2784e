"""A roll-back killed at any write and resumed leaves no duplicate comments, worklogs or
attachments and writes every field once more at most (the rows left ``writing`` are read again:
only what still differs is written)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backups.rollback import executor
from backups.rollback.models import RollbackItem, RollbackJob
from backups.rollback.services import rollback_job_create
from sandbox.content import issue_doc
from tests.backups.conftest import snapshot_reader
from tests.rollback.conftest import make_bad_change, run_rollback_to_end


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after the hook point runs, nothing is cleaned up."""


def kill_at(point: str, occurrence: int):
    seen = {"n": 0}

    def hook(name: str) -> None:
        if name == point:
            seen["n"] += 1
            if seen["n"] == occurrence:
                raise Killed(name)

    return hook


def comment_counts(sandbox) -> dict[str, int]:
    site = sandbox.site("acme")
    return {i.key: len(issue_doc(site, i)["comments"]) for i in site.live_issues()}


@pytest.mark.parametrize(("point", "occurrence"), [("write:fields", 7), ("write:comments", 3)])
def test_a_roll_back_killed_midway_and_resumed_leaves_no_duplicate_comments(
    backup_env, db, point, occurrence
):
    bad = make_bad_change(backup_env, issues=60, edited=30, comments=8)
    records = {r["key"]: r for r in snapshot_reader(bad.snapshot.job).records("issues")}
    job = rollback_job_create(
        snapshot=bad.snapshot,
        changed_from=bad.t1,
        changed_to=bad.t2,
        acting_user=None,
        enqueue=False,
    )
    executor.crash_hook = kill_at(point, occurrence)
    with pytest.raises(Killed):
        run_rollback_to_end(job)
    executor.crash_hook = None
    job.refresh_from_db()
    assert job.status == RollbackJob.Status.RUNNING
    assert job.items.filter(state=RollbackItem.State.WRITING).exists()
    # What the lease timeout does after a worker died: the job may be claimed again.
    RollbackJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now())

    job = run_rollback_to_end(job)

    assert job.status == RollbackJob.Status.SUCCEEDED, (job.status_reason, job.errors[:3])
    counts = comment_counts(backup_env)
    for key in bad.edited:
        assert counts[key] == len(records[key]["comments"]), key
    assert not job.items.exclude(state=RollbackItem.State.DONE).exists()
