"""With Atlassian's per-issue write limits on (20 per 2 s, 100 per 30 s), a restore that writes
more than that to one issue spaces its writes and is never refused."""

from __future__ import annotations

from collections import Counter

from backups.restore.models import RestoreJob
from tests.backups.conftest import snapshot_reader
from tests.restore.conftest import restore


def test_a_restore_never_runs_into_the_per_issue_write_limit(snapshot_a, site_b, backup_env):
    records = list(snapshot_reader(snapshot_a.job).records("issues"))
    heaviest = max(
        len(r["comments"]) + len(r["worklogs"]) + len(r["remoteLinks"]) + len(r["attachments"])
        for r in records
    )
    assert heaviest > 20, "the sandbox world must hold an issue with more writes than the limit"
    backup_env.state.rate_limits_enabled = True
    backup_env.state.request_log.clear()

    job = restore(snapshot_a, site_b)

    assert job.status == RestoreJob.Status.SUCCEEDED, job.errors[:3]
    log = [r for r in backup_env.state.request_log.records if site_b.cloud_id in r.path]
    assert [r for r in log if r.reason == "jira-per-issue-on-write"] == []
    writes_per_issue = Counter(
        r.path.split("/issue/")[1].split("/")[0]
        for r in log
        if r.method == "POST" and "/issue/" in r.path and r.path.count("/") > 8
    )
    assert max(writes_per_issue.values()) > 20


def test_a_restore_waits_for_its_share_of_the_points_budget_instead_of_writing(
    snapshot_a, site_b, backup_env, settings
):
    from backups.restore.executor import run_restore
    from backups.restore.services import restore_job_create
    from tests.restore.test_idempotency import sandbox_writes

    settings.ATLASSIAN_TIER1_POINTS_PER_HOUR = 1
    job = restore_job_create(
        snapshot=snapshot_a, target_site=site_b, acting_user=None, enqueue=False
    )
    backup_env.state.request_log.clear()

    outcome = run_restore(job.pk)

    job.refresh_from_db()
    assert outcome.state == "requeue" and outcome.countdown > 0
    assert job.status == RestoreJob.Status.RUNNING
    assert "share of points" in job.current_step
    assert sandbox_writes(backup_env, site_b) == []
