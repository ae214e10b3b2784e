"""A restore run twice creates nothing the second time; a restore interrupted at any write and
resumed leaves no duplicates (the id map, pending rows and the source issue property)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backups.restore import executor
from backups.restore.models import RestoreItem, RestoreJob
from backups.restore.normalize import normalize_snapshot
from backups.restore.provenance import is_history_file
from backups.restore.services import restore_job_create
from sandbox.content import issue_doc
from tests.backups.conftest import snapshot_reader
from tests.restore.conftest import restore, run_restore_to_end


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after the hook point runs, nothing is cleaned up."""


def totals_in_sandbox(site) -> dict[str, int]:
    totals = dict.fromkeys(("issues", "comments", "worklogs", "attachments", "remote_links"), 0)
    for issue in site.issues.values():
        doc = issue_doc(site, issue)
        totals["issues"] += 1
        totals["comments"] += len(doc["comments"])
        totals["worklogs"] += len(doc["worklogs"])
        # The restore's history file of each issue is counted apart.
        history = [a for a in doc["attachments"] if is_history_file(a.get("filename"))]
        totals["attachments"] += len(doc["attachments"]) - len(history)
        if history:
            totals["history_files"] = totals.get("history_files", 0) + len(history)
        totals["remote_links"] += len(doc["remotelinks"])
    totals["links"] = len({link[0] for links in site.links.values() for link in links})
    return totals


def totals_in_snapshot(snapshot) -> dict[str, int]:
    issues = normalize_snapshot(snapshot_reader(snapshot.job))["issues"].values()
    return {
        "issues": len(issues),
        "comments": sum(len(i["comments"]) for i in issues),
        "worklogs": sum(len(i["worklogs"]) for i in issues),
        "attachments": sum(len(i["attachments"]) for i in issues),
        "remote_links": sum(len(i["remote_links"]) for i in issues),
        "links": len({link for i in issues for link in i["links"]}),
    }


def sandbox_writes(sandbox, site) -> list:
    cloud_id = site.cloud_id
    return [
        r
        for r in sandbox.state.request_log.records
        if r.method in ("POST", "PUT")
        and f"/ex/jira/{cloud_id}/" in r.path
        and not r.path.endswith(("/search/jql", "/search/approximate-count", "/issue/bulkfetch"))
    ]


def test_running_the_same_restore_again_creates_nothing(snapshot_a, site_b, backup_env):
    first = restore(snapshot_a, site_b)
    assert first.status == RestoreJob.Status.SUCCEEDED, first.errors[:3]
    before = totals_in_sandbox(backup_env.site("bravo"))
    backup_env.state.request_log.clear()

    second = restore(snapshot_a, site_b)

    assert second.status == RestoreJob.Status.SUCCEEDED, second.errors[:3]
    assert sandbox_writes(backup_env, site_b) == []
    assert totals_in_sandbox(backup_env.site("bravo")) == before
    assert second.counters["issues_created"] == 0
    assert second.counters["issues_already"] == first.counters["issues_created"]


def _kill_at(point: str, occurrence: int):
    seen = {"n": 0}

    def hook(name: str) -> None:
        if name == point:
            seen["n"] += 1
            if seen["n"] == occurrence:
                raise Killed(name)

    return hook


def _expire_lease(job: RestoreJob) -> None:
    """What the lease timeout does after a worker died: the job may be claimed again."""
    RestoreJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now())


@pytest.mark.parametrize(
    ("point", "occurrence"),
    [
        ("issues:before-send", 1),
        ("issues:sent", 1),
        ("parts:comments", 7),
        ("parts:attachments", 2),
        ("links:sent", 2),
        ("statuses:transition", 3),
    ],
)
def test_a_restore_killed_at_a_write_and_resumed_leaves_no_duplicates(
    snapshot_a, site_b, backup_env, point, occurrence
):
    job = restore_job_create(
        snapshot=snapshot_a, target_site=site_b, acting_user=None, enqueue=False
    )
    executor.crash_hook = _kill_at(point, occurrence)
    with pytest.raises(Killed):
        run_restore_to_end(job)
    executor.crash_hook = None
    job.refresh_from_db()
    assert job.status == RestoreJob.Status.RUNNING
    _expire_lease(job)

    job = run_restore_to_end(job)

    assert job.status == RestoreJob.Status.SUCCEEDED, (job.status_reason, job.errors[:3])
    expected = totals_in_snapshot(snapshot_a)
    in_target = totals_in_sandbox(backup_env.site("bravo"))
    assert in_target.pop("history_files") == expected["issues"]
    assert in_target == expected
    assert not RestoreItem.objects.filter(state=RestoreItem.State.PENDING).exists()
    # The counters include what was written before the kill (found again in the target).
    for name in ("issues", "comments", "worklogs", "attachments", "remote_links"):
        counter = "issues_created" if name == "issues" else name
        assert job.counters[counter] == expected[name], name


def test_issues_created_before_a_kill_are_found_by_their_property_not_created_again(
    snapshot_a, site_b, backup_env
):
    job = restore_job_create(
        snapshot=snapshot_a, target_site=site_b, acting_user=None, enqueue=False
    )
    executor.crash_hook = _kill_at("issues:sent", 1)
    with pytest.raises(Killed):
        run_restore_to_end(job)
    executor.crash_hook = None
    pending = RestoreItem.objects.filter(state=RestoreItem.State.PENDING)
    created_in_target = len(backup_env.site("bravo").issues)
    assert pending.count() == created_in_target > 0
    _expire_lease(job)
    backup_env.state.request_log.clear()

    job = run_restore_to_end(job)

    searches = [r for r in backup_env.state.request_log.records if r.path.endswith("/search/jql")]
    assert searches, "the target was searched for the unanswered creates"
    assert job.counters["issues_created"] == totals_in_snapshot(snapshot_a)["issues"]
    assert len(backup_env.site("bravo").issues) == totals_in_snapshot(snapshot_a)["issues"]


def test_waiting_for_the_search_to_settle_is_its_own_outcome_not_a_rate_limit(
    snapshot_a, site_b, settings
):
    settings.RESTORE_SEARCH_SETTLE_SECONDS = 600
    job = restore_job_create(
        snapshot=snapshot_a, target_site=site_b, acting_user=None, enqueue=False
    )
    while "projects" not in job.done_steps:
        executor.run_restore(job.pk, slice_seconds=0)  # one unit per slice
        job.refresh_from_db()
    # A create was sent and its answer not recorded (its worker died): a pending row.
    first = snapshot_reader(snapshot_a.job).records("issues").__next__()
    RestoreItem.objects.create(
        target_site=site_b,
        source_cloud_id=snapshot_a.site.cloud_id,
        kind=RestoreItem.Kind.ISSUE,
        source_id=str(first["id"]),
        source_key=first["key"],
        state=RestoreItem.State.PENDING,
        job=job,
    )

    outcome = executor.run_restore(job.pk, slice_seconds=3600)

    job.refresh_from_db()
    assert outcome.state == "not_ready"
    assert 500 < outcome.countdown <= 600
    assert "search" in outcome.reason and "rate limit" not in outcome.reason
    assert job.status == RestoreJob.Status.RUNNING
    assert job.attempts == 0
    assert "search" in job.current_step
    assert outcome.requeue_in() == outcome.countdown
