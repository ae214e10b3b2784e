"""A full backup of a seeded sandbox site holds everything the site holds."""

from __future__ import annotations

import orjson

from backups.models import BackupJob, Snapshot
from backups.snapshots.verify import verify_snapshot
from sandbox import catalog
from tests.backups.conftest import backup, sandbox_content, sha, snapshot_reader


def plain(value):
    """The sandbox keeps some generated content pre-serialized (orjson fragments)."""
    return orjson.loads(orjson.dumps(value))


def test_a_full_backup_holds_every_object_of_the_site_with_identical_attachments(acme, backup_env):
    job = backup(acme)
    assert job.status == BackupJob.Status.SUCCEEDED, job.status_reason
    snapshot = Snapshot.objects.get(pk=job.snapshot_id)
    reader = snapshot_reader(job)
    sb_site = backup_env.site("acme")
    issue_doc, histories_of, attachment_content_bytes = sandbox_content()

    projects = {r["key"] for r in reader.records("projects")}
    assert projects == {p.key for p in sb_site.projects.values()}
    assert {r["id"] for r in reader.records("statuses")} == {s[0] for s in catalog.STATUSES}
    assert {r["id"] for r in reader.records("priorities")} == {p[0] for p in catalog.PRIORITIES}
    assert {r["id"] for r in reader.records("link_types")} == {t[0] for t in catalog.LINK_TYPES}
    assert {r["id"] for r in reader.records("issue_types")} == {t[0] for t in catalog.ISSUE_TYPES}
    assert {r["accountId"] for r in reader.records("users")} == set(sb_site.members)
    options = {(r["fieldId"], r["id"]) for r in reader.records("field_options")}
    assert options == {(f, o[0]) for f, opts in catalog.CUSTOM_OPTIONS.items() for o in opts}
    components = {(r["projectId"], r["id"]) for r in reader.records("components")}
    assert components == {
        (str(p.id), str(c["id"])) for p in sb_site.projects.values() for c in p.components
    }
    versions = {(r["projectId"], r["id"]) for r in reader.records("versions")}
    assert versions == {
        (str(p.id), str(v["id"])) for p in sb_site.projects.values() for v in p.versions
    }
    roles = {(r["projectId"], r["id"]): r for r in reader.records("project_roles")}
    assert {k[0] for k in roles} == {str(p.id) for p in sb_site.projects.values()}

    issues = {r["id"]: r for r in reader.records("issues")}
    live = sb_site.live_issues()
    assert set(issues) == {str(i.id) for i in live}
    assert snapshot.counts["issues"] == len(live)
    attachments_seen = 0
    for issue in live:
        doc = issue_doc(sb_site, issue)
        record = issues[str(issue.id)]
        assert record["key"] == issue.key
        assert record["fields"]["summary"] == doc["fields"]["summary"]
        assert record["fields"]["description"] == plain(doc["fields"]["description"])
        tier = plain(doc["fields"]["customfield_10020"])
        assert record["fields"]["customfield_10020"] == (
            None
            if tier is None
            else {**tier, "self": record["fields"]["customfield_10020"]["self"]}
        )
        assert [c["id"] for c in record["comments"]] == [c["id"] for c in doc["comments"]]
        assert [w["id"] for w in record["worklogs"]] == [w["id"] for w in doc["worklogs"]]
        assert [h["id"] for h in record["changelog"]] == [
            h["id"] for h in histories_of(sb_site, issue)
        ]
        assert [str(r["id"]) for r in record["remoteLinks"]] == [
            str(r["id"]) for r in doc["remotelinks"]
        ]
        assert record["properties"] == plain(doc["properties"])
        by_id = {a["id"]: a for a in record["attachments"]}
        assert set(by_id) == {a["id"] for a in doc["attachments"]}
        for attachment in doc["attachments"]:
            content = attachment_content_bytes(sb_site, attachment)
            stored = by_id[attachment["id"]]
            assert stored["sha256"] == sha(content)
            with reader.open_attachment(stored["sha256"]) as fh:
                assert fh.read() == content
            attachments_seen += 1
    assert attachments_seen > 0
    assert verify_snapshot(acme.cloud_id, str(job.snapshot_id), deep=True) == []
    assert job.points_spent > 0
    assert job.objects_done == len(live)
    assert job.objects_total == len(live)
