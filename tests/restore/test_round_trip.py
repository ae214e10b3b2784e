"""Back up site A, restore it into an empty site B, back up B: the contents are equal once
normalized (ids, keys and timestamps that necessarily differ are mapped)."""

from __future__ import annotations

from backups.restore.models import RestoreJob
from backups.restore.normalize import differences, normalize_snapshot
from tests.backups.conftest import backup, snapshot_reader
from tests.restore.conftest import restore


def test_a_site_restored_into_an_empty_site_backs_up_to_the_same_content(
    snapshot_a, site_b, backup_env
):
    job = restore(snapshot_a, site_b)
    assert job.status == RestoreJob.Status.SUCCEEDED, (job.status_reason, job.errors[:5])

    copy = backup(site_b)

    original = normalize_snapshot(snapshot_reader(snapshot_a.job))
    restored = normalize_snapshot(snapshot_reader(copy))
    assert differences(original, restored) == []
    assert original == restored
    # The comparison covers what the acceptance names, and the site really had it.
    issues = original["issues"].values()
    assert sum(len(i["comments"]) for i in issues) > 0
    assert sum(len(i["worklogs"]) for i in issues) > 0
    assert sum(len(i["links"]) for i in issues) > 0
    assert sum(len(i["attachments"]) for i in issues) > 0
    assert sum(len(i["remote_links"]) for i in issues) > 0
    assert any(i["custom"] for i in issues)
    assert job.counters["issues_created"] == len(original["issues"])


def test_the_normalizer_sees_a_changed_comment(snapshot_a, site_b, backup_env):
    original = normalize_snapshot(snapshot_reader(snapshot_a.job))
    changed = normalize_snapshot(snapshot_reader(snapshot_a.job))
    issue = next(i for i in changed["issues"].values() if i["comments"])
    issue["comments"][0] = b"{}"

    assert differences(original, changed) != []
