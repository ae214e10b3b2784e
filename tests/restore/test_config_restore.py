"""Configuration restore (issue 19, item 4): what Jira's API can write safely comes back —
custom field options (so restored select values are valid again), filters, release states,
role actors — and everything else is listed as a readable difference to apply by hand, in the
plan and in the result."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from backups.restore.models import RestoreItem, RestoreJob
from backups.restore.report import restore_report
from sandbox import config
from sandbox.content import issue_doc, plain
from tests.backups.conftest import backup, connect_site
from tests.backups.test_changes import BRONZE, TIER, TIER_CONTEXT, Admin
from tests.restore.conftest import restore

pytestmark = pytest.mark.django_db


def tier_of(sb, key: str):
    value = plain(sb, issue_doc(sb, sb.issue(key))["fields"].get(TIER))
    return value["value"] if value else None


def options_of(sb) -> dict[str, bool]:
    return {o["value"]: o["disabled"] for o in config.of(sb).options[TIER_CONTEXT]}


@pytest.fixture
def world(backup_env):
    backup_env.state.reset(seed="test", projects=2, issues=30)
    site = connect_site(backup_env, "acme")
    snapshot = backup(site).snapshot
    return backup_env, site, snapshot


def test_restoring_the_options_makes_the_restored_issues_values_valid_again(world):
    sandbox, site, snapshot = world
    sb = sandbox.site("acme")
    bronze = sorted(i.key for i in sb.live_issues() if tier_of(sb, i.key) == "Bronze")
    assert len(bronze) >= 2
    admin = Admin(sandbox, "acme")
    # Someone deletes the Bronze option, then the Bronze issues.
    admin.call("DELETE", f"field/{TIER}/context/{TIER_CONTEXT}/option/{BRONZE}")
    for key in bronze:
        admin.call("DELETE", f"issue/{key}")
    assert "Bronze" not in options_of(sb)

    plan = restore(snapshot, site, issue_keys=bronze, dry_run=True)
    lines = restore_report(plan)["lines"]
    assert "configuration would write: 1 options" in lines
    assert any('add 1 option(s) to Customer Tier, context "Default' in line for line in lines)
    assert "Bronze" not in options_of(sb)  # the dry run wrote nothing

    job = restore(snapshot, site, issue_keys=bronze)

    assert job.status == "succeeded", (job.status_reason, job.errors)
    assert options_of(sb)["Bronze"] is False  # back, and enabled
    restored = RestoreItem.objects.filter(job=job, kind=RestoreItem.Kind.ISSUE)
    assert sorted(i.source_key for i in restored) == bronze
    assert [tier_of(sb, i.target_key) for i in restored] == ["Bronze"] * len(bronze)
    report = restore_report(job)
    assert report["configuration"]["written"] == {"options": 1}
    assert "configuration written: 1 options" in report["lines"]

    again = restore(snapshot, site, issue_keys=bronze)
    assert again.counters["configuration"]["written"] == {}


def test_a_disabled_option_is_enabled_again(world):
    sandbox, site, snapshot = world
    sb = sandbox.site("acme")
    Admin(sandbox, "acme").call(
        "PUT",
        f"field/{TIER}/context/{TIER_CONTEXT}/option",
        json={"options": [{"id": BRONZE, "disabled": True}]},
    )

    job = restore(snapshot, site, project_keys=["ALPHA"])

    assert job.status == "succeeded", job.status_reason
    assert options_of(sb)["Bronze"] is False
    assert job.counters["configuration"]["written"] == {"options_enabled": 1}


def test_a_whole_site_restore_brings_back_filters_release_states_and_role_actors(world):
    sandbox, site, snapshot = world
    sb = sandbox.site("acme")
    admin = Admin(sandbox, "acme")
    filters = {f["name"]: f for f in config.of(sb).filters.values()}
    admin.call("DELETE", f"filter/{filters['Open bugs']['id']}")
    alpha = sb.project("ALPHA")
    released = next(v for v in alpha.versions if v.get("released"))
    admin.call("PUT", f"version/{released['id']}", json={"released": False})
    role_id, actors = next((r, a) for r, a in alpha.roles.items() if a)
    removed = actors.pop()  # someone took a user out of the role in Jira's UI
    admin.edit_workflow("Sandbox classic workflow", remove=["41"])

    plan = restore(snapshot, site, dry_run=True)
    section = plan.plan["configuration"]
    assert section["written"] == {"filters": 1, "role_actors": 1, "versions": 1}
    manual = [m for m in section["manual"] if m["area"] == "workflows"]
    assert manual and manual[0]["change"] == "differs"
    assert manual[0]["object"] == 'workflow "Sandbox classic workflow": transitions[Done]'
    assert manual[0]["before"] == "(none)" and "Done" in manual[0]["after"]

    job = restore(snapshot, site)

    assert job.status == "succeeded", (job.status_reason, job.errors)
    recreated = [f for f in config.of(sb).filters.values() if f["name"] == "Open bugs"]
    assert len(recreated) == 1 and recreated[0]["jql"] == filters["Open bugs"]["jql"]
    assert recreated[0]["sharePermissions"][0]["type"] == "global"
    assert next(v for v in alpha.versions if v["id"] == released["id"])["released"] is True
    assert removed in alpha.roles[role_id]
    lines = restore_report(job)["lines"]
    assert any(line.startswith("configuration to apply by hand (") for line in lines)
    assert any("workflows: differs: workflow" in line for line in lines)

    again = restore(snapshot, site, dry_run=True)
    assert again.plan["configuration"]["written"] == {}


def test_the_command_and_the_admin_show_the_configuration_section(world, staff_client):
    sandbox, _site, snapshot = world
    sb = sandbox.site("acme")
    Admin(sandbox, "acme").call("DELETE", f"field/{TIER}/context/{TIER_CONTEXT}/option/{BRONZE}")
    bronze = sorted(i.key for i in sb.live_issues())[:1]
    args = ["restore_snapshot", str(snapshot.pk), "--to", "acme", "--issue", *bronze]

    out = StringIO()
    call_command(*args, "--dry-run", stdout=out, stderr=StringIO())
    assert "configuration would write: 1 options" in out.getvalue()
    assert "Bronze" not in options_of(sb)

    out = StringIO()
    call_command(*args, "--inline", stdout=out, stderr=StringIO())
    assert "configuration written: 1 options" in out.getvalue()
    job = RestoreJob.objects.filter(dry_run=False).latest("pk")
    page = staff_client.get(reverse("admin:backups_restorejob_change", args=[job.pk]))
    text = page.content.decode()
    assert escape("configuration written: 1 options") in text
    assert escape('add 1 option(s) to Customer Tier, context "Default') in text


def test_into_another_site_dashboards_come_with_their_gadgets_and_filters(
    backup_env, featured_a, featured_b
):
    a, b = backup_env.site("acme"), backup_env.site("bravo")
    config.of(b)  # bravo's own filters and system dashboard exist before the restore
    source_dashboards = [d for d in config.of(a).dashboards.values() if not d["systemDashboard"]]
    source_filters = {f["id"]: f for f in config.of(a).filters.values()}

    job = restore(featured_a, featured_b)

    assert job.status == "succeeded", (job.status_reason, job.errors[:3])
    target_filters = {f["name"]: f for f in config.of(b).filters.values()}
    in_review = next(f for f in source_filters.values() if f["name"].endswith(" in review"))
    restored = target_filters[in_review["name"]]
    assert restored["jql"] == in_review["jql"]
    alpha_in_b = b.project("ALPHA")
    assert restored["sharePermissions"][0]["project"]["id"] == str(alpha_in_b.id)
    for dashboard in source_dashboards:
        copy = next(d for d in config.of(b).dashboards.values() if d["name"] == dashboard["name"])
        assert [g["title"] for g in copy["gadgets"]] == [g["title"] for g in dashboard["gadgets"]]
        assert [g["position"] for g in copy["gadgets"]] == [
            g["position"] for g in dashboard["gadgets"]
        ]
        for original, made in zip(dashboard["gadgets"], copy["gadgets"], strict=True):
            if "uri" in original:
                source_filter = source_filters[original["uri"].rsplit("=", 1)[1]]
                target_id = target_filters[source_filter["name"]]["id"]
                assert made["uri"].endswith(f"filterId={target_id}")
    section = job.counters["configuration"]
    assert section["written"]["dashboards"] == len(source_dashboards)
    assert section["written"]["gadgets"] == sum(len(d["gadgets"]) for d in source_dashboards)
