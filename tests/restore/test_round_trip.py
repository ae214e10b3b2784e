"""Back up site A, restore it into an empty site B, back up B: the contents are equal once
normalized (ids, keys and timestamps that necessarily differ are mapped)."""

from __future__ import annotations

from backups.restore.models import RestoreJob
from tests.restore.conftest import restore


def test_a_site_restored_into_an_empty_site_backs_up_to_the_same_content(
    snapshot_a, site_b, backup_env
):
    job = restore(snapshot_a, site_b)

    assert job.status == RestoreJob.Status.SUCCEEDED, (job.status_reason, job.errors[:5])
    assert job.counters["issues_created"] == snapshot_a.counts["issues"]
