"""What changed on a site (issue 19, item 2): between two snapshots, or a snapshot and now —
issues created, deleted and modified field by field, and configuration changes (a deleted
select option, a changed workflow) — through the selector and the command."""

from __future__ import annotations

import io
import json

import pytest
import requests
from django.core.management import CommandError, call_command

from backups.changes.report import site_changes
from backups.models import BackupJob
from tests.backups.conftest import backup, connect_site

pytestmark = pytest.mark.django_db

TIER = "customfield_10020"  # "Customer Tier", a select list: Gold, Silver, Bronze
TIER_CONTEXT = "10200"
BRONZE = "10102"


@pytest.fixture
def featured(backup_env):
    backup_env.state.reset(seed="test", features="all", projects=2, issues=30)
    return backup_env


class Admin:
    """The site's administrator working in Jira (over the sandbox's HTTP API)."""

    def __init__(self, sandbox, name: str) -> None:
        tokens = sandbox.connect(sites=[name])
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {tokens.access_token}"
        self.base = f"{sandbox.jira_url(name)}/rest/api/3"
        self.sandbox = sandbox
        self.name = name

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.http.request(method, f"{self.base}/{path}", timeout=10, **kwargs)
        assert response.status_code < 300, response.text
        return response

    def edit_workflow(self, workflow: str, **changes) -> None:
        response = requests.post(
            f"{self.sandbox.url}/_sandbox/workflows/edit",
            json={"site": self.name, "workflow": workflow, **changes},
            timeout=10,
        )
        assert response.status_code == 200, response.text


def bad_week(featured, site) -> dict:
    """Between two backups an administrator deletes the Bronze option and removes the Block
    transition from the software workflow; someone renames one issue and deletes another."""
    admin = Admin(featured, "acme")
    sb = featured.site("acme")
    issues = sorted(sb.live_issues(), key=lambda i: i.id)
    renamed, deleted = issues[3], issues[5]
    admin.call("DELETE", f"field/{TIER}/context/{TIER_CONTEXT}/option/{BRONZE}")
    admin.edit_workflow(
        "Software workflow",
        remove=["51"],
        add=[{"id": "101", "name": "Park", "to": "10000", "from": ["3"]}],
    )
    admin.call("PUT", f"issue/{renamed.key}", json={"fields": {"summary": "Renamed by the bulk"}})
    admin.call("DELETE", f"issue/{deleted.key}")
    return {"renamed": renamed.key, "deleted": deleted.key}


def _assert_the_bad_week(report, what) -> None:
    rows = report.rows()
    option = [r for r in rows if r["area"] == "field_options"]
    assert option == [
        {
            "area": "field_options",
            "change": "deleted",
            "object": 'field option "Bronze" of Customer Tier',
            "field": "",
            "before": "",
            "after": "",
        }
    ]
    workflow = [r for r in rows if r["area"] == "workflows"]
    assert {r["object"] for r in workflow} == {'workflow "Software workflow"'}
    fields = {r["field"]: r for r in workflow}
    assert (
        "transitions[51 Block]" in fields and fields["transitions[51 Block]"]["after"] == "(none)"
    )
    assert "Block" in fields["transitions[51 Block]"]["before"]
    assert "transitions[101 Park]" in fields
    assert fields["transitions[101 Park]"]["before"] == "(none)"
    summary = [r for r in rows if r["area"] == "issue" and r["field"] == "Summary"]
    assert len(summary) == 1 and summary[0]["object"].startswith(what["renamed"])
    assert summary[0]["after"] == "Renamed by the bulk"
    gone = [r for r in rows if r["area"] == "issue" and r["change"] == "deleted"]
    assert [r["object"].split()[0] for r in gone] == [what["deleted"]]
    assert report.deleted == 1 and report.created == 0


def test_the_change_view_shows_a_deleted_option_and_a_changed_workflow_between_snapshots(
    featured,
):
    site = connect_site(featured, "acme", software=True)
    t1 = backup(site)
    what = bad_week(featured, site)
    t2 = backup(site, BackupJob.Kind.INCREMENTAL)

    report = site_changes(before=t1.snapshot, after=t2.snapshot)

    _assert_the_bad_week(report, what)
    assert report.modified == 1
    assert report.points == 0  # two snapshots: nothing read from Atlassian


def test_between_a_snapshot_and_now_the_site_is_read_live(featured):
    site = connect_site(featured, "acme", software=True)
    t1 = backup(site)
    what = bad_week(featured, site)

    report = site_changes(before=t1.snapshot, after=None)

    _assert_the_bad_week(report, what)
    assert report.after.startswith("now") and report.points > 0


def test_nothing_changed_between_two_snapshots_taken_back_to_back(featured):
    site = connect_site(featured, "acme", software=True)
    t1 = backup(site)
    t2 = backup(site, BackupJob.Kind.INCREMENTAL)

    report = site_changes(before=t1.snapshot, after=t2.snapshot)

    assert report.rows() == [] and report.summary().endswith("0 configuration change(s)")


def test_the_command_prints_the_changes_as_json_table_and_csv(featured):
    site = connect_site(featured, "acme", software=True)
    t1 = backup(site)
    what = bad_week(featured, site)
    t2 = backup(site, BackupJob.Kind.INCREMENTAL)
    args = ["snapshot_changes", "--site", "acme", "--from", str(t1.snapshot_id)]
    args += ["--to", str(t2.snapshot_id)]

    out, err = io.StringIO(), io.StringIO()
    call_command(*args, "--format", "json", stdout=out, stderr=err)
    document = json.loads(out.getvalue())
    assert document["issues"] == {"created": 0, "deleted": 1, "modified": 1, "not_listed": 0}
    assert any(c["area"] == "field_options" for c in document["changes"])
    assert "1 deleted, 1 modified" in err.getvalue()

    out = io.StringIO()
    call_command(*args, "--format", "csv", stdout=out, stderr=io.StringIO())
    lines = out.getvalue().splitlines()
    assert lines[0] == "area,change,object,field,before,after"
    assert any(line.startswith("issue,deleted," + what["deleted"]) for line in lines)

    out = io.StringIO()
    call_command(*args, stdout=out)
    assert 'workflow "Software workflow"' in out.getvalue()
    assert "configuration change(s)" in out.getvalue()


def test_the_command_exits_2_on_an_unknown_site_or_snapshot(featured):
    site = connect_site(featured, "acme")
    snapshot = backup(site).snapshot
    for args in (
        ["--site", "nowhere", "--from", str(snapshot.pk)],
        ["--site", "acme", "--from", "00000000-0000-0000-0000-000000000000"],
        ["--site", "acme", "--from", str(snapshot.pk), "--to", "deadbeefdeadbeef"],
    ):
        with pytest.raises(CommandError) as raised:
            call_command("snapshot_changes", *args, stdout=io.StringIO(), stderr=io.StringIO())
        assert raised.value.returncode == 2, args


def test_a_site_that_cannot_be_read_now_is_said_in_words(featured):
    site = connect_site(featured, "acme")
    snapshot = backup(site).snapshot
    featured.state.delete_site("acme")

    with pytest.raises(CommandError) as raised:
        call_command(
            "snapshot_changes",
            "--site",
            "acme",
            "--from",
            str(snapshot.pk),
            "--format",
            "json",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )

    assert raised.value.returncode == 1
    assert f"{site.url} cannot be read now" in str(raised.value)
