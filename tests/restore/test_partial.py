"""Atlassian's partial success of issue/bulk: the issues it refused are failed items with its
reason, the others are restored, and the job ends "finished with errors"."""

from __future__ import annotations

from backups.restore.models import RestoreItem, RestoreJob
from sandbox.content import pin
from tests.backups.conftest import backup
from tests.restore.conftest import restore


def test_issues_refused_in_a_bulk_create_are_reported_and_the_rest_restored(
    acme, site_b, backup_env
):
    sb_acme = backup_env.site("acme")
    bad = sorted(sb_acme.issues.values(), key=lambda i: i.id)[3]
    # A value Jira itself refuses on create (labels cannot contain spaces).
    pin(sb_acme, bad)["fields"]["labels"] = ["two words"]
    snapshot = backup(acme).snapshot

    job = restore(snapshot, site_b)

    assert job.status == RestoreJob.Status.PARTIAL
    failed = RestoreItem.objects.get(kind="issue", state=RestoreItem.State.FAILED)
    assert failed.source_key == bad.key
    assert "label" in failed.error.lower()
    assert job.counters["issues_failed"] == 1
    assert job.counters["issues_created"] == snapshot.counts["issues"] - 1
    assert len(backup_env.site("bravo").issues) == snapshot.counts["issues"] - 1
    assert any(e["source"] == bad.key for e in job.errors)
