"""A restore brings back a working Jira (issue 18): a status the target's workflow cannot reach
is named by the plan and the job ends partial listing the issue; restore -> delete -> restore
creates the issue again; provenance lines can be turned off; only attachments shown inline have
their new media id read."""

from __future__ import annotations

import pytest

from backups.restore.models import RestoreItem, RestoreJob
from tenants.access import jira_client_for_site
from tests.backups.conftest import snapshot_reader
from tests.restore.conftest import empty_site, restore

pytestmark = pytest.mark.django_db

KANBAN_SCHEME = 10101  # the sandbox's workflow scheme without Blocked


def _first_project(snapshot) -> dict:
    return min(snapshot_reader(snapshot.job).records("projects"), key=lambda p: int(p["id"]))


def test_a_status_the_target_workflow_lacks_is_planned_and_the_job_ends_partial_naming_it(
    featured_a, featured_b
):
    project = _first_project(featured_a)
    blocked = sorted(
        r["key"]
        for r in snapshot_reader(featured_a.job).records("issues")
        if r["projectId"] == str(project["id"]) and r["fields"]["status"]["name"] == "Blocked"
    )
    assert blocked, "the generated site has blocked issues in its first project"
    with jira_client_for_site(featured_b) as client:
        created = client.create_project(
            {"key": project["key"], "name": project["name"], "projectTypeKey": "software"}
        )
        client.assign_workflow_scheme(created["id"], KANBAN_SCHEME)

    plan = restore(featured_a, featured_b, project_keys=[project["key"]], dry_run=True).plan

    unreachable = plan["statuses"]["unreachable"]
    assert sorted(e["issue"] for e in unreachable) == blocked
    assert any(
        "status 'Blocked' not reachable in the target workflow" in line for line in plan["limits"]
    )

    job = restore(featured_a, featured_b, project_keys=[project["key"]])

    assert job.status == RestoreJob.Status.PARTIAL
    listed = {e["source"] for e in job.errors if e["kind"] == "status"}
    assert listed == set(blocked)
    assert job.counters["statuses_not_reached"] == len(blocked)
    assert job.counters["issues_created"] == job.counters["issues_in_scope"]


def test_an_issue_deleted_after_its_restore_is_restored_again_and_a_second_run_writes_nothing(
    snapshot_a, site_b, backup_env
):
    first = restore(snapshot_a, site_b)
    assert first.status == RestoreJob.Status.SUCCEEDED, first.errors[:3]
    victim = RestoreItem.objects.filter(kind="issue").order_by("id").last()
    with jira_client_for_site(site_b) as client:
        client._request("DELETE", "issue/{key}", path_params={"key": victim.target_key})

    again = restore(snapshot_a, site_b)

    assert again.status == RestoreJob.Status.SUCCEEDED, again.errors[:3]
    assert again.counters["issues_created"] == 1
    assert again.counters["issues_recreated"] == 1
    item = RestoreItem.objects.get(kind="issue", source_id=victim.source_id)
    assert item.target_key != victim.target_key
    assert backup_env.site("bravo").issue(item.target_key) is not None

    backup_env.state.request_log.clear()
    third = restore(snapshot_a, site_b)
    writes = [
        r
        for r in backup_env.state.request_log.records
        if r.method in ("POST", "PUT", "DELETE")
        and f"/ex/jira/{site_b.cloud_id}/" in r.path
        and not r.path.endswith(("/search/jql", "/issue/bulkfetch", "/search/approximate-count"))
    ]
    assert third.counters["issues_created"] == 0 and writes == []


def test_provenance_lines_can_be_turned_off(snapshot_a, site_b, backup_env, settings):
    settings.RESTORE_PROVENANCE = False

    job = restore(snapshot_a, site_b, issue_keys=[_an_issue_with_comments(snapshot_a)])

    assert job.status == RestoreJob.Status.SUCCEEDED, job.errors[:3]
    item = RestoreItem.objects.get(kind="issue")
    issue = backup_env.site("bravo").issue(item.target_key)
    from sandbox.content import issue_doc

    bodies = [c["body"] for c in issue_doc(backup_env.site("bravo"), issue)["comments"]]
    assert bodies and not any("Originally by" in str(b) for b in bodies)


def _an_issue_with_comments(snapshot) -> str:
    return next(
        r["key"] for r in snapshot_reader(snapshot.job).records("issues") if r.get("comments")
    )


def test_only_attachments_shown_inline_have_their_new_media_id_read(
    featured_a, featured_b, backup_env
):
    plan = restore(featured_a, featured_b, dry_run=True).plan
    backup_env.state.request_log.clear()

    job = restore(featured_a, featured_b)

    assert job.status == RestoreJob.Status.SUCCEEDED, job.errors[:3]
    lookups = backup_env.state.request_log.where(
        method="GET", path_prefix=f"/ex/jira/{featured_b.cloud_id}/rest/api/3/attachment/content/"
    )
    records = list(snapshot_reader(featured_a.job).records("issues"))
    attachments = sum(len(r.get("attachments") or []) for r in records)
    assert 0 < len(lookups) == plan["media"]["lookups"] < attachments
    edits = [
        r
        for r in backup_env.state.request_log.where(method="PUT")
        if r.path.startswith(f"/ex/jira/{featured_b.cloud_id}/rest/api/3/issue/")
        and r.path.rsplit("/", 2)[-2] == "issue"  # the issue itself, not a property
    ]
    assert len(edits) == plan["media"]["issue_edits"]


def test_a_target_grant_without_software_scopes_restores_the_rest_and_says_so(
    featured_a, backup_env
):
    target = empty_site(backup_env, "bravo", tenant=featured_a.site.tenant, features="all")

    plan = restore(featured_a, target, dry_run=True).plan
    assert any(
        "sprints and the rank order not restored: the target's grant lacks Jira Software's scopes"
        in line
        for line in plan["limits"]
    )
    backup_env.state.request_log.clear()
    job = restore(featured_a, target)

    records = list(snapshot_reader(featured_a.job).records("issues"))
    assert job.counters["issues_created"] == len(records)
    assert job.counters["statuses_not_reached"] == 0
    assert not backup_env.state.request_log.where(
        path_prefix=f"/ex/jira/{target.cloud_id}/rest/agile"
    )
    assert any("lacks Jira Software's scopes" in e["error"] for e in job.errors)
    # A limit the plan named before anything was written does not make the job partial.
    assert job.status == RestoreJob.Status.SUCCEEDED, job.status_reason
    assert "limit(s) the plan named" in job.status_reason
