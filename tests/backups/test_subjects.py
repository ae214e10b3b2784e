"""Data-subject requests (issue 22): find, export and redact one Jira account's data in a
tenant's snapshots; after a redaction no object of the tenant holds its display name or e-mail,
and the redacted snapshot still restores."""

from __future__ import annotations

import gzip

import orjson

from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from backups.subjects import subject_export, subject_find, subject_redact
from tenants.models import AuditEvent
from tests.backups.conftest import backup, connect_site, snapshot_reader


def _person(reader) -> tuple[str, str]:
    """An account that reported or commented on issues: (account id, display name)."""
    counts: dict[str, int] = {}
    names = {}
    for issue in reader.records("issues"):
        for comment in issue.get("comments") or []:
            author = comment.get("author") or {}
            if author.get("accountId"):
                counts[author["accountId"]] = counts.get(author["accountId"], 0) + 1
                names[author["accountId"]] = author.get("displayName")
    account = max(counts, key=counts.get)
    return account, names[account]


def test_a_redaction_leaves_no_trace_and_the_snapshot_still_restores(backup_env, db):
    from backups.restore.models import RestoreJob
    from tests.restore.conftest import empty_site, restore

    backup_env.state.reset(seed="test", projects=1, issues=20)
    site = connect_site(backup_env, "acme")
    job = backup(site)
    reader = snapshot_reader(job)
    account, name = _person(reader)
    assert name and len(name) > 3

    found, names = subject_find(tenant=site.tenant, account_id=account)
    assert list(found.snapshots) == [str(job.snapshot_id)] and name in names
    exported = subject_export(tenant=site.tenant, account_id=account)
    assert exported["snapshots"][str(job.snapshot_id)]["issues"]

    report = subject_redact(tenant=site.tenant, account_id=account)
    assert report.shards_rewritten > 0 and report.objects_deleted > 0

    store = ObjectStore(site.cloud_id)
    after = SnapshotReader.open(site.cloud_id, str(job.snapshot_id))
    named = dict(after.stored_objects())
    assert set(store.list_all()) == {store.name(sha) for sha in named}  # old objects gone
    needles = [n.encode() for n in names] + [orjson.dumps(n)[1:-1] for n in names]
    for sha in named:
        data = store.read(sha)
        for form in (data, _gunzip(data)):
            assert not [n for n in needles if n and n in form], sha
    assert account.encode() in b"".join(
        orjson.dumps(r) for r in after.records("issues")
    )  # the account id stays (it is what links the records); only the person's name goes
    assert {a.action for a in AuditEvent.objects.filter(action__startswith="backup.subject")} == {
        "backup.subject_exported",
        "backup.subject_redacted",
    }

    target = empty_site(backup_env, "bravo", tenant=site.tenant)
    restored = restore(job.snapshot, target)
    assert restored.status == RestoreJob.Status.SUCCEEDED, restored.status_reason


def _gunzip(data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except OSError:
        return b""
