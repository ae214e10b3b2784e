"""Backups complete through 429 storms and server errors, and honour every Retry-After."""

from __future__ import annotations

from backups.models import BackupJob
from tests.backups.conftest import backup, comparable, snapshot_reader

RETRY_AFTER = 1


def test_a_backup_completes_with_a_fifth_of_requests_failing_and_never_sends_before_retry_after(
    acme, backup_env, fast_retries
):
    reference = backup(acme)
    backup_env.state.faults.error_rate(
        0.2, statuses=(429, 500, 503), seed=5, path_prefix="/ex/jira/", retry_after=RETRY_AFTER
    )
    backup_env.state.request_log.clear()

    job = backup(acme, BackupJob.Kind.FULL)

    assert job.status == BackupJob.Status.SUCCEEDED, job.status_reason
    assert comparable(snapshot_reader(job)) == comparable(snapshot_reader(reference))
    log = sorted(
        (r for r in backup_env.state.request_log.records if r.path.startswith("/ex/jira/")),
        key=lambda r: r.time,
    )
    refusals = [i for i, r in enumerate(log) if r.status in (429, 503)]
    assert len(refusals) >= 5
    assert any(log[i].status == 429 for i in refusals)
    for i in refusals:
        if i + 1 < len(log):
            waited = log[i + 1].time - log[i].time
            assert waited >= RETRY_AFTER, (log[i], log[i + 1])
