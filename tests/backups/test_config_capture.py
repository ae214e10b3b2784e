"""Every snapshot holds the site's configuration (issue 19, item 3): schemes, screens, field
configurations, permission, notification and security schemes, context scopes, filters and
dashboards with their gadgets, boards with their filter and columns — in full and incremental
backups; an account that may not read the schemes still gets a backup that says what it lacks;
a snapshot from before these kinds still reads."""

from __future__ import annotations

import pytest

from backups.config.capture import CONFIG_KINDS
from backups.models import BackupJob
from backups.snapshots.manifest import read_manifest
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from tests.backups.conftest import backup, connect_site, snapshot_reader

pytestmark = pytest.mark.django_db


@pytest.fixture
def featured(backup_env):
    backup_env.state.reset(seed="test", features="all", projects=2, issues=30)
    return backup_env


def test_a_full_and_an_incremental_backup_hold_the_configuration(featured):
    site = connect_site(featured, "acme", software=True)
    sb = featured.site("acme")
    pids = sorted(str(p) for p in sb.projects)

    full = backup(site)
    featured.state.mutate(fraction=0.1, site="acme")
    incremental = backup(site, BackupJob.Kind.INCREMENTAL)
    assert incremental.kind == BackupJob.Kind.INCREMENTAL

    for job in (full, incremental):
        assert job.status == "succeeded", job.status_reason
        reader = snapshot_reader(job)
        for kind in CONFIG_KINDS:
            assert list(reader.records(kind)), kind
        screens = {s["name"]: s for s in reader.records("screens")}
        resolve = screens["Resolve Issue Screen"]["tabs"][0]["fields"]
        assert [f["id"] for f in resolve] == ["resolution", "fixVersions", "assignee"]
        type_schemes = list(reader.records("issue_type_schemes"))
        assert sorted(p for s in type_schemes for p in s["projectIds"]) == pids
        assert all(s["issueTypeIds"] for s in type_schemes)
        screen_schemes = {s["name"]: s for s in reader.records("issue_type_screen_schemes")}
        assert screen_schemes["Software Issue Type Screen Scheme"]["mappings"]["10002"] == "10001"
        configs = {c["name"]: c for c in reader.records("field_configurations")}
        bug = {i["id"]: i for i in configs["Bug Field Configuration"]["items"]}
        assert bug["environment"]["isRequired"] is True
        field_schemes = list(reader.records("field_configuration_schemes"))
        assert sorted(p for s in field_schemes for p in s["projectIds"]) == pids
        permission = {s["name"]: s for s in reader.records("permission_schemes")}
        assert permission["Default Permission Scheme"]["permissions"]
        notifications = list(reader.records("notification_schemes"))
        assert notifications[0]["projectIds"] == pids
        assert {e["event"] for e in notifications[0]["events"]} >= {"Issue Created"}
        security = list(reader.records("issue_security_schemes"))
        assert [lv["name"] for lv in security[0]["levels"]] == ["Staff only", "Team"]
        per_project = {r["projectId"]: r for r in reader.records("project_schemes")}
        assert set(per_project) == set(pids)
        assert per_project[pids[1]]["issueSecurityScheme"]["name"] == "Confidential work"
        assert per_project[pids[0]]["issueSecurityScheme"] is None
        assert per_project[pids[1]]["permissionScheme"]["name"] == "Restricted permission scheme"
        filters = {f["name"]: f for f in reader.records("filters")}
        assert filters["Open bugs"]["jql"] == "issuetype = Bug AND status != Done"
        assert filters["Open bugs"]["sharePermissions"] == [{"type": "global"}]
        dashboards = {d["name"]: d for d in reader.records("dashboards")}
        team = next(d for n, d in dashboards.items() if n.endswith(" team"))
        assert [g["title"] for g in team["gadgets"]] == [
            "Open bugs",
            "Issues by status",
            "Activity",
        ]
        assert team["gadgets"][0]["uri"].endswith(f"filterId={filters['Open bugs']['id']}")
        boards = list(reader.records("boards"))
        assert boards and all(b["filterId"] and b["columns"] for b in boards)
        assert list(reader.records("snapshot_notes")) == []
        counts = read_manifest(
            ObjectStore(site.cloud_id).storage, site.cloud_id, str(job.snapshot_id)
        ).counts
        assert counts["dashboards"] == len(dashboards) and counts["filters"] == len(filters)


def test_an_unchanged_configuration_is_stored_once(featured):
    site = connect_site(featured, "acme", software=True)
    first = snapshot_reader(backup(site)).manifest
    second = snapshot_reader(backup(site, BackupJob.Kind.INCREMENTAL)).manifest
    for kind in ("screens", "permission_schemes", "filters", "dashboards"):
        assert [s.sha256 for s in first.shards_of(kind)] == [
            s.sha256 for s in second.shards_of(kind)
        ]


def test_contexts_limited_to_projects_and_issue_types_keep_their_scope(featured):
    site = connect_site(featured, "acme")
    sb = featured.site("acme")
    project = next(iter(sb.projects.values()))
    from sandbox import config

    field_id = next(c["id"] for c in sb.custom_fields if c["kind"] == "select")
    config.of(sb).contexts[field_id].append(
        {
            "id": "10999",
            "name": "Bugs of the first project",
            "description": "",
            "isGlobalContext": False,
            "isAnyIssueType": False,
            "projectIds": [str(project.id)],
            "issueTypeIds": ["10002"],
        }
    )
    config.of(sb).options["10999"] = [{"id": "10998", "value": "Only here", "disabled": False}]

    reader = snapshot_reader(backup(site))

    contexts = {c["id"]: c for c in reader.records("field_contexts") if c["fieldId"] == field_id}
    assert contexts["10999"]["projectIds"] == [str(project.id)]
    assert contexts["10999"]["issueTypeIds"] == ["10002"]
    options = [o["value"] for o in reader.records("field_options") if o["contextId"] == "10999"]
    assert options == ["Only here"]


def test_an_account_that_may_not_read_schemes_backs_up_the_rest_and_says_so(featured):
    site = connect_site(featured, "acme", software=True)
    sb = featured.site("acme")
    for account in list(sb.admins):
        featured.state.remove_admin(account, "acme")

    job = backup(site)

    assert job.status == "succeeded"
    assert "schemes and screens not backed up: the connecting account" in job.status_reason
    reader = snapshot_reader(job)
    assert {n["id"] for n in reader.records("snapshot_notes")} == {"workflows", "schemes"}
    assert list(reader.records("screens")) == [] and list(reader.records("filters"))


def test_a_snapshot_without_configuration_kinds_still_reads(featured):
    site = connect_site(featured, "acme")
    job = backup(site)
    reader = snapshot_reader(job)
    old = SnapshotReader(reader.manifest, reader.objects.storage)
    old.manifest.shards = [s for s in old.manifest.shards if s.kind not in CONFIG_KINDS]

    assert list(old.records("screens")) == [] and list(old.records("dashboards")) == []
    assert list(old.records("issues"))
