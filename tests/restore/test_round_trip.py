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


def test_a_working_jira_comes_back_statuses_hierarchy_sprints_ranks_and_inline_images(
    featured_a, featured_b, backup_env
):
    job = restore(featured_a, featured_b)
    assert job.status == RestoreJob.Status.SUCCEEDED, (job.status_reason, job.errors[:5])

    copy = backup(featured_b)

    original = normalize_snapshot(snapshot_reader(featured_a.job))
    restored = normalize_snapshot(snapshot_reader(copy))
    assert differences(original, restored) == []
    assert original == restored
    issues = list(original["issues"].values())
    # The site really had what the acceptance names.
    assert {i["status"] for i in issues} >= {"To Do", "In Progress", "In Review", "Done"}
    assert {i["resolution"] for i in issues} > {None}
    assert sum(1 for i in issues if i["parent"]) > 5
    assert {s[1] for i in issues for s in i["sprints"]} == {"closed", "active", "future"}
    assert len(original["rank"]) == len(issues)
    media = [m for i in issues for m in i["media"]]
    assert media and not [m for m in media if m.startswith("unresolved")]
    counters = job.counters
    assert counters["statuses_not_reached"] == 0 and counters["sprints_restored"] > 0
    assert counters["history_files"] == len(issues)
