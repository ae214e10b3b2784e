"""One deleted issue back: found across the site's snapshots in the admin and restored, with its
comments and attachments, into its original project; and users unknown in a target site."""

from __future__ import annotations

from django.urls import reverse

from backups.restore.executor import run_restore
from backups.restore.models import RestoreItem, RestoreJob
from backups.restore.provenance import is_history_file, strip_provenance
from backups.restore.selectors import find_issue_in_snapshots
from sandbox.content import issue_doc
from tests.backups.conftest import connect_site
from tests.restore.conftest import restore, run_restore_to_end


def _issue_with_parts(snapshot):
    from tests.backups.conftest import snapshot_reader

    return next(
        r
        for r in snapshot_reader(snapshot.job).records("issues")
        if r["comments"] and r["attachments"]
    )


def test_a_deleted_issue_is_found_in_the_admin_and_restored_into_its_project(
    snapshot_a, acme, backup_env, staff_client
):
    record = _issue_with_parts(snapshot_a)
    sb_site = backup_env.site("acme")
    deleted = sb_site.issues_by_key[record["key"]]
    expected_bodies = [c["body"] for c in record["comments"]]
    expected_files = sorted((a["filename"], a["size"]) for a in record["attachments"])
    del sb_site.issues[deleted.id], sb_site.issues_by_key[deleted.key]
    count_before = len(sb_site.issues)

    page = staff_client.get(
        reverse("admin:backups_restore_find_issue"), {"site": acme.pk, "key": record["key"]}
    )
    assert page.status_code == 200
    assert str(snapshot_a.pk) in page.content.decode()
    # "Restore this issue…" shows the plan first: a dry run, nothing written.
    restore_page = reverse("admin:backups_restore_snapshot", args=[snapshot_a.pk])
    plan = staff_client.post(
        restore_page, {"target_site": acme.pk, "issues": record["key"], "plan": "1"}
    )
    assert plan.status_code == 200
    assert "issues: 1 to create" in plan.content.decode()
    assert "Restore as planned" in plan.content.decode()
    assert len(sb_site.issues) == count_before
    assert not RestoreJob.objects.filter(dry_run=False).exists()
    answer = staff_client.post(
        restore_page, {"target_site": acme.pk, "issues": record["key"], "confirm": "1"}
    )
    assert answer.status_code == 302
    job = RestoreJob.objects.get(dry_run=False)
    assert job.issue_keys == [record["key"]] and job.target_site == acme
    assert not job.create_projects  # into its original project, which must still be there
    job = run_restore_to_end(job)

    assert job.status == RestoreJob.Status.SUCCEEDED, (job.status_reason, job.errors[:3])
    assert len(sb_site.issues) == count_before + 1
    item = RestoreItem.objects.get(kind="issue")
    restored = sb_site.issues_by_key[item.target_key]
    assert restored.project_id == deleted.project_id
    restored_doc = issue_doc(sb_site, restored)
    # Each comment says who wrote it and when; the issue has its history file besides.
    assert [strip_provenance(c["body"]) for c in restored_doc["comments"]] == expected_bodies
    assert all(
        c["body"]["content"][0]["content"][0]["text"].startswith("Originally by ")
        for c in restored_doc["comments"]
    )
    files = sorted((a["filename"], a["size"]) for a in restored_doc["attachments"])
    history = [f for f in files if is_history_file(f[0])]
    assert [f[0] for f in history] == [f"restored-from-{record['key']}-history.txt"]
    assert [f for f in files if f not in history] == expected_files
    assert restored_doc["fields"]["summary"] == record["fields"]["summary"]
    # The job's page shows the new key first, with a link to it in the site.
    job_page = staff_client.get(answer["Location"]).content.decode()
    result = job_page.split('id="restored-keys"', 1)[1].split("</div>", 1)[0]
    assert f"{record['key']} was restored as" in result
    assert f'href="{acme.url}/browse/{item.target_key}"' in result


def test_restoring_an_issue_that_still_exists_in_its_site_creates_nothing(
    snapshot_a, acme, backup_env
):
    record = _issue_with_parts(snapshot_a)
    count_before = len(backup_env.site("acme").issues)

    job = restore(snapshot_a, acme, issue_keys=[record["key"]], create_projects=False)

    assert job.status == RestoreJob.Status.SUCCEEDED, job.errors[:3]
    assert len(backup_env.site("acme").issues) == count_before
    assert RestoreItem.objects.get(kind="issue").state == RestoreItem.State.EXISTING


def test_finding_an_issue_key_lists_only_snapshots_that_hold_it(snapshot_a, acme):
    assert find_issue_in_snapshots(site=acme, key="NOPE-1") == []
    found = find_issue_in_snapshots(site=acme, key=_issue_with_parts(snapshot_a)["key"].lower())
    assert [f.snapshot.pk for f in found] == [snapshot_a.pk]


def test_users_unknown_in_the_target_get_the_fallback_and_are_reported(
    snapshot_a, acme, backup_env
):
    state = backup_env.state
    site_c = state.add_site("charlie", projects=0, issues=0, admins=[state.admin])
    target = connect_site(backup_env, "charlie", tenant=acme.tenant)
    fallback = state.admin.account_id

    job = restore(snapshot_a, target, user_fallback=fallback)

    assert job.status == RestoreJob.Status.SUCCEEDED, job.errors[:3]
    assert job.counters["unknown_users"] > 0
    strangers = set(backup_env.site("acme").members) - set(site_c.members)
    for issue in site_c.issues.values():
        fields = issue_doc(site_c, issue)["fields"]
        for name in ("assignee", "reporter", "customfield_10024"):
            if fields.get(name):
                assert fields[name]["accountId"] not in strangers
    assignees = {
        (issue_doc(site_c, i)["fields"].get("assignee") or {}).get("accountId")
        for i in site_c.issues.values()
    }
    assert fallback in assignees


def test_the_admin_restore_page_shows_the_plan_before_anything_is_written(
    snapshot_a, site_b, backup_env, staff_client
):
    url = reverse("admin:backups_restore_snapshot", args=[snapshot_a.pk])
    assert staff_client.get(url).status_code == 200

    page = staff_client.post(
        url,
        {"target_site": site_b.pk, "plan": "1", "create_projects": "on", "on_damaged": "skip"},
    )

    text = page.content.decode()
    assert page.status_code == 200
    assert f"issues: {snapshot_a.counts['issues']} to create" in text
    assert "Damaged objects in the snapshot" in text and "will not come back as it was" in text
    assert RestoreJob.objects.get(dry_run=True).on_damaged == "skip"
    assert len(backup_env.site("bravo").issues) == 0
    confirm = staff_client.post(
        url,
        {"target_site": site_b.pk, "confirm": "1", "create_projects": "on", "on_damaged": "stop"},
    )
    assert confirm.status_code == 302
    job = RestoreJob.objects.get(dry_run=False)
    assert job.on_damaged == "stop"
    assert run_restore(job.pk).state == "done"
    assert len(backup_env.site("bravo").issues) == snapshot_a.counts["issues"]
    change = staff_client.get(reverse("admin:backups_restorejob_change", args=[job.pk]))
    assert change.status_code == 200 and "issues created" in change.content.decode()
    assert staff_client.get(reverse("admin:backups_restorejob_changelist")).status_code == 200


def test_the_snapshot_admin_offers_the_restore_action(snapshot_a, staff_client):
    answer = staff_client.post(
        reverse("admin:backups_snapshot_changelist"),
        {"action": "restore_snapshot_action", "_selected_action": [str(snapshot_a.pk)]},
    )
    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:backups_restore_snapshot", args=[snapshot_a.pk])
