"""The dry run says what would be created or skipped and why, and writes nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils.html import escape

from backups.restore.models import RestoreItem, RestoreJob
from tests.backups.conftest import connect_site
from tests.restore.conftest import restore
from tests.restore.test_idempotency import sandbox_writes


def test_a_dry_run_counts_what_would_be_created_and_writes_nothing(snapshot_a, site_b, backup_env):
    backup_env.state.request_log.clear()

    job = restore(snapshot_a, site_b, dry_run=True)

    assert job.status == RestoreJob.Status.SUCCEEDED
    assert sandbox_writes(backup_env, site_b) == []
    assert not RestoreItem.objects.exists()
    plan = job.plan
    assert plan["issues"]["create"] == snapshot_a.counts["issues"]
    assert {p["action"] for p in plan["projects"].values()} == {"create"}
    assert plan["parts"]["comments"] > 0 and plan["parts"]["attachments"] > 0
    assert plan["writes"]["floor"] >= plan["issues"]["create"] / 50
    assert plan["users"]["unknown_count"] == 0


def test_a_dry_run_after_a_restore_reports_every_issue_already_restored(
    snapshot_a, site_b, backup_env
):
    restore(snapshot_a, site_b)

    plan = restore(snapshot_a, site_b, dry_run=True).plan

    assert plan["issues"]["create"] == 0
    assert plan["issues"]["already_restored"] == snapshot_a.counts["issues"]
    assert {p["action"] for p in plan["projects"].values()} == {"existing"}


def test_a_dry_run_without_admin_rights_skips_missing_projects_with_the_reason(
    snapshot_a, site_b, backup_env
):
    backup_env.state.remove_admin(backup_env.state.admin, backup_env.site("bravo"))

    plan = restore(snapshot_a, site_b, dry_run=True).plan

    assert plan["issues"]["create"] == 0
    assert plan["issues"]["skip"] == snapshot_a.counts["issues"]
    assert plan["issues"]["skip_reasons"] == {
        "project missing in the target": snapshot_a.counts["issues"]
    }
    assert "ADMINISTER" in plan["permissions"]["missing"]
    assert all("may not create projects" in p["reason"] for p in plan["projects"].values())


def test_a_dry_run_lists_users_unknown_in_the_target(snapshot_a, backup_env, acme):
    backup_env.state.add_site("charlie", projects=0, issues=0, admins=[backup_env.state.admin])
    site_c = connect_site(backup_env, "charlie", tenant=acme.tenant)

    plan = restore(snapshot_a, site_c, dry_run=True).plan

    assert plan["users"]["unknown_count"] > 0
    assert plan["users"]["action"].startswith("left empty")


def test_the_command_prints_the_plan_of_a_dry_run(snapshot_a, site_b, backup_env):
    out = StringIO()

    call_command(
        "restore_snapshot", str(snapshot_a.pk), "--to", site_b.cloud_id, "--dry-run", stdout=out
    )

    text = out.getvalue()
    assert f"issues: {snapshot_a.counts['issues']} to create" in text
    assert "writes needed at least" in text
    assert not RestoreItem.objects.exists()


def test_the_command_refuses_a_project_the_snapshot_does_not_hold(snapshot_a, site_b):
    with pytest.raises(CommandError, match="holds no project NOPE"):
        call_command(
            "restore_snapshot", str(snapshot_a.pk), "--to", site_b.cloud_id, "--project", "NOPE"
        )
    assert not RestoreJob.objects.exists()


def test_the_command_restores_one_project_inline(snapshot_a, site_b, backup_env):
    project = backup_env.site("acme").projects
    key = sorted(p.key for p in project.values())[0]
    out = StringIO()

    call_command(
        "restore_snapshot",
        str(snapshot_a.pk),
        "--to",
        site_b.cloud_id,
        "--project",
        key,
        "--inline",
        stdout=out,
    )

    bravo = backup_env.site("bravo")
    assert [p.key for p in bravo.projects.values()] == [key]
    assert all(i.key.startswith(f"{key}-") for i in bravo.issues.values())
    assert len(bravo.issues) == sum(
        1 for i in backup_env.site("acme").issues.values() if i.key.startswith(f"{key}-")
    )
    assert "succeeded" in out.getvalue()


def test_the_command_the_json_and_the_admin_show_the_same_report(
    snapshot_a, site_b, backup_env, staff_client
):
    import json

    from backups.restore.report import report_lines

    key = sorted(p.key for p in backup_env.site("acme").projects.values())[0]
    out = StringIO()
    call_command(
        "restore_snapshot",
        str(snapshot_a.pk),
        "--to",
        site_b.cloud_id,
        "--project",
        key,
        "--inline",
        "--on-damaged",
        "skip",
        stdout=out,
    )
    job = RestoreJob.objects.get(dry_run=False)
    assert job.on_damaged == "skip"
    lines = report_lines(job)
    assert "issues created: " + str(job.counters["issues_created"]) in lines
    assert any(line.startswith("not as it was: created and updated dates") for line in lines)
    assert all(line in out.getvalue() for line in lines)

    out = StringIO()
    call_command(
        "restore_snapshot",
        str(snapshot_a.pk),
        "--to",
        site_b.cloud_id,
        "--project",
        key,
        "--inline",
        "--format",
        "json",
        stdout=out,
    )
    second = RestoreJob.objects.filter(dry_run=False).order_by("-pk").first()
    report = json.loads(out.getvalue())["report"]
    assert report["lines"] == report_lines(second)
    assert {c["name"]: c["count"] for c in report["categories"]}["issues_already"] > 0

    page = staff_client.get(reverse("admin:backups_restorejob_change", args=[job.pk]))
    text = page.content.decode()
    assert all(escape(line) in text for line in lines)
