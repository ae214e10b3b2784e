"""The roll-back's entry points: ``rollback_issues`` (dry run as a table, JSON or CSV; exit codes
0/1/2; --inline) and the admin's snapshot action and page (the diff of a dry run, then "Roll back
as shown"), all through the same service and report."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from backups.rollback.models import RollbackJob
from tenants.models import AuditEvent
from tests.rollback.conftest import make_bad_change
from tests.rollback.test_window import site_writes


@pytest.fixture
def bad(backup_env, db):
    return make_bad_change(backup_env, issues=40, edited=6, comments=2)


def run(*args) -> str:
    out = io.StringIO()
    call_command("rollback_issues", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_dry_run_prints_each_issue_diff_as_json_and_writes_nothing(bad, backup_env):
    key = bad.edited[0]
    backup_env.state.request_log.clear()

    document = json.loads(
        run(str(bad.snapshot.pk), "--issue", key, "--dry-run", "--format", "json")
    )

    assert site_writes(backup_env, bad.site) == []
    assert document["dry_run"] is True and document["status"] == "succeeded"
    (issue,) = document["issues"]
    assert issue["key"] == key
    summary = next(f for f in issue["fields"] if f["field"] == "summary")
    assert summary["now"] == "Overwritten by automation" or key in bad.summary_after
    assert {f["field"] for f in issue["fields"]} >= {"summary", "labels"}
    assert not RollbackJob.objects.exists()  # the command's dry run keeps nothing


def test_the_dry_run_as_csv_has_one_row_per_difference(bad):
    rows = list(
        csv.DictReader(
            io.StringIO(
                run(
                    str(bad.snapshot.pk),
                    "--changed-from",
                    bad.t1.isoformat(),
                    "--changed-to",
                    bad.t2.isoformat(),
                    "--dry-run",
                    "--format",
                    "csv",
                )
            )
        )
    )
    assert {r["issue"] for r in rows} == set(bad.edited)
    assert set(rows[0]) == {"issue", "field", "now", "snapshot"}
    assert any(r["now"] == "Overwritten by automation" for r in rows)


def test_an_unknown_snapshot_or_a_bad_time_exits_2_and_a_refused_scope_exits_1(bad):
    with pytest.raises(CommandError) as unknown:
        run("00000000-0000-0000-0000-000000000000", "--issue", "ALPHA-1")
    assert unknown.value.returncode == 2
    with pytest.raises(CommandError) as bad_time:
        run(str(bad.snapshot.pk), "--changed-from", "yesterday", "--changed-to", "now")
    assert bad_time.value.returncode == 2
    with pytest.raises(CommandError, match="choose one scope") as refused:
        run(str(bad.snapshot.pk), "--issue", "ALPHA-1", "--jql", "project = ALPHA")
    assert refused.value.returncode == 1
    with pytest.raises(CommandError, match="ends before it starts"):
        run(
            str(bad.snapshot.pk),
            "--changed-from",
            bad.t2.isoformat(),
            "--changed-to",
            bad.t1.isoformat(),
        )
    assert not RollbackJob.objects.exists()


def test_the_command_rolls_back_inline_and_a_second_run_writes_nothing(bad, backup_env):
    key = next(k for k in bad.edited if k not in bad.summary_after)
    run(str(bad.snapshot.pk), "--issue", key, "--inline")

    site = backup_env.site("acme")
    assert site.issue(key).doc["fields"]["summary"] != "Overwritten by automation"
    job = RollbackJob.objects.get(dry_run=False)
    assert job.status == RollbackJob.Status.SUCCEEDED
    assert AuditEvent.objects.filter(action="rollback.job_finished").count() == 1
    backup_env.state.request_log.clear()
    run(str(bad.snapshot.pk), "--issue", key, "--inline")
    assert site_writes(backup_env, bad.site) == []


def test_the_admin_shows_the_diff_before_anything_is_written_then_rolls_back(
    bad, backup_env, staff_client
):
    url = reverse("admin:backups_rollback_snapshot", args=[bad.snapshot.pk])
    assert staff_client.get(url).status_code == 200
    backup_env.state.request_log.clear()
    key = bad.edited[1]

    page = staff_client.post(url, {"issues": key, "diff": "Show the diff"})

    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="rollback-diff"' in html and key in html
    assert "Roll back as shown" in html
    assert site_writes(backup_env, bad.site) == []
    dry = RollbackJob.objects.get(dry_run=True)

    confirm = staff_client.post(url, {"issues": key, "confirm": "1", "dry_run": str(dry.pk)})

    assert confirm.status_code == 302
    job = RollbackJob.objects.get(dry_run=False)
    assert job.issue_keys == [key] and job.requested_by is not None
    assert confirm["Location"] == reverse("admin:backups_rollbackjob_change", args=[job.pk])
    assert AuditEvent.objects.filter(
        action="rollback.job_enqueued", actor=job.requested_by
    ).exists()
    change = staff_client.get(reverse("admin:backups_rollbackjob_change", args=[dry.pk]))
    assert change.status_code == 200 and 'id="rollback-diff"' in change.content.decode()


def test_the_snapshot_action_opens_the_roll_back_page(bad, staff_client):
    answer = staff_client.post(
        reverse("admin:backups_snapshot_changelist"),
        {"action": "rollback_snapshot_action", "_selected_action": [str(bad.snapshot.pk)]},
    )
    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:backups_rollback_snapshot", args=[bad.snapshot.pk])


def test_the_snapshot_page_links_to_the_roll_back_page(bad, staff_client):
    page = staff_client.get(reverse("admin:backups_snapshot_change", args=[bad.snapshot.pk]))
    url = reverse("admin:backups_rollback_snapshot", args=[bad.snapshot.pk])
    assert page.status_code == 200 and f'href="{url}"' in page.content.decode()
