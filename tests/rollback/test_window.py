"""Acceptance of issue 19, item 1: a bulk edit changes fields on 200 issues and deletes 50
comments between T1 and T2, other edits follow after T2; rolling back "changed between T1 and
T2" restores exactly those issues' fields and the 50 comments, leaves the later edits alone,
its dry run lists exactly the changed fields, and a second roll-back writes nothing."""

from __future__ import annotations

from backups.restore import mapping as maps
from backups.restore.provenance import strip_provenance
from backups.rollback.models import RollbackItem, RollbackJob
from sandbox.content import issue_doc, plain
from tests.backups.conftest import snapshot_reader
from tests.rollback.conftest import make_bad_change, roll_back

COMPARED = ("summary", "priority", "labels", "customfield_10020", "description")


def snapshot_records(snapshot) -> dict[str, dict]:
    return {r["key"]: r for r in snapshot_reader(snapshot.job).records("issues")}


def fields_now(sandbox, key: str) -> dict:
    site = sandbox.site("acme")
    return {k: plain(site, v) for k, v in issue_doc(site, site.issue(key))["fields"].items()}


def comparable(name: str, value):
    if name == "priority":
        return (value or {}).get("id")
    if name == "customfield_10020":
        return (value or {}).get("value")
    if name == "labels":
        return sorted(value or [])
    return value


def window_fields(sandbox, key: str, bad) -> set[str]:
    """The fields the bulk edit really changed on the issue (its changelog entry)."""
    site = sandbox.site("acme")
    doc = issue_doc(site, site.issue(key))
    out: set[str] = set()
    for entry in doc["histories"]:
        created = entry["created"]
        if (
            entry.get("author", {}).get("accountId") == bad.author
            and created >= bad.t1.strftime("%Y-%m-%dT%H:%M")
            and created <= bad.t2.strftime("%Y-%m-%dT%H:%M:%S.999")
        ):
            out |= {i["fieldId"] for i in entry["items"]}
    return out


def comment_bodies(sandbox, key: str) -> list[bytes]:
    site = sandbox.site("acme")
    return sorted(
        maps.canonical(strip_provenance(plain(site, c["body"])))
        for c in issue_doc(site, site.issue(key))["comments"]
    )


def site_writes(sandbox, site) -> list:
    return [
        r
        for r in sandbox.state.request_log.records
        if r.method in ("POST", "PUT", "DELETE")
        and f"/ex/jira/{site.cloud_id}/" in r.path
        and not r.path.endswith(
            ("/search/jql", "/search/approximate-count", "/issue/bulkfetch", "/changelog/bulkfetch")
        )
    ]


def check_rolled_back(sandbox, bad, *, issues: int, edited: int, comments: int) -> None:
    records = snapshot_records(bad.snapshot)
    expected = {key: window_fields(sandbox, key, bad) for key in bad.edited}
    sandbox.state.request_log.clear()

    dry = roll_back(bad.snapshot, changed_from=bad.t1, changed_to=bad.t2, dry_run=True)

    assert dry.status == RollbackJob.Status.SUCCEEDED, dry.status_reason
    items = {i.issue_key: i for i in dry.items.all()}
    assert set(items) == set(bad.edited)
    for key, item in items.items():
        listed = {f["field"] for f in item.diff["fields"]}
        kept = {f["field"] for f in item.diff.get("kept", [])}
        if key in bad.summary_after:
            assert kept == {"summary"}
            assert listed == expected[key] - {"summary"}
        else:
            assert kept == set() and listed == expected[key], key
    deleted = sorted(c["id"] for c in bad.deleted_comments)
    assert sorted(c for i in items.values() for c in i.diff["add"].get("comments", [])) == deleted
    assert site_writes(sandbox, bad.site) == []

    sandbox.state.request_log.clear()
    job = roll_back(bad.snapshot, changed_from=bad.t1, changed_to=bad.t2)

    assert job.status == RollbackJob.Status.SUCCEEDED, (job.status_reason, job.errors[:3])
    assert job.counters["issues_done"] == edited
    puts = [r for r in site_writes(sandbox, bad.site) if r.method == "PUT"]
    assert len(puts) == edited  # one edit per changed issue
    for key in bad.edited:
        now, then = fields_now(sandbox, key), records[key]["fields"]
        for name in COMPARED:
            if key in bad.summary_after and name == "summary":
                assert now["summary"] == bad.summary_after[key]  # the later edit stays
                continue
            assert comparable(name, now.get(name)) == comparable(name, then.get(name)), (key, name)
        original = sorted(maps.canonical(c["body"]) for c in records[key]["comments"])
        assert comment_bodies(sandbox, key) == original, key
    for key, summary in bad.others_after.items():
        assert fields_now(sandbox, key)["summary"] == summary
    assert job.counters["written"]["comments"] == comments

    sandbox.state.request_log.clear()
    again = roll_back(bad.snapshot, changed_from=bad.t1, changed_to=bad.t2)

    assert again.status == RollbackJob.Status.SUCCEEDED, again.status_reason
    assert site_writes(sandbox, bad.site) == []
    assert not again.items.exclude(state=RollbackItem.State.SAME).exists()


def test_a_small_bad_change_is_rolled_back_exactly(backup_env, db):
    bad = make_bad_change(backup_env, issues=60, edited=20, comments=5)
    check_rolled_back(backup_env, bad, issues=60, edited=20, comments=5)


def test_a_bulk_edit_of_200_issues_and_50_comments_is_rolled_back_exactly(backup_env, db):
    bad = make_bad_change(backup_env, issues=300, edited=200, comments=50)
    check_rolled_back(backup_env, bad, issues=300, edited=200, comments=50)
