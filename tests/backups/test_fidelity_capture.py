"""A backup captures what a restore needs to bring back a working Jira (issue 18): workflows per
project and issue type, resolutions, the issue type hierarchy, boards, sprints, each issue's
sprints and rank, and the media ids of attachments shown inline — in full and incremental runs.
A grant without Jira Software's scopes backs up everything else and says what it left out."""

from __future__ import annotations

import pytest

from backups.models import BackupJob
from tests.backups.conftest import backup, connect_site, snapshot_reader

pytestmark = pytest.mark.django_db


@pytest.fixture
def featured(backup_env):
    backup_env.state.reset(seed="test", features="all", projects=2, issues=40)
    return backup_env


def _fields_by_custom(reader, custom: str) -> str:
    return next(
        f["id"]
        for f in reader.records("fields")
        if str((f.get("schema") or {}).get("custom", "")).endswith(custom)
    )


def test_a_full_and_an_incremental_backup_hold_workflows_boards_sprints_and_ranks(featured):
    site = connect_site(featured, "acme", software=True)
    sb = featured.site("acme")

    full = backup(site)
    assert full.status == "succeeded" and full.status_reason == ""
    featured.state.mutate(fraction=0.1, site="acme")
    incremental = backup(site, BackupJob.Kind.INCREMENTAL)
    assert incremental.kind == BackupJob.Kind.INCREMENTAL

    for job in (full, incremental):
        reader = snapshot_reader(job)
        workflows = {w["name"] for w in reader.records("workflows")}
        assert {"Software workflow", "Kanban workflow", "Simple workflow"} <= workflows
        schemes = {s["projectId"]: s["defaultWorkflow"] for s in reader.records("workflow_schemes")}
        assert sorted(schemes.values()) == ["Kanban workflow", "Software workflow"]
        per_type = list(reader.records("project_statuses"))
        assert {t["name"] for t in per_type} >= {"Epic", "Task", "Subtask"}
        assert {r["name"] for r in reader.records("resolutions")} >= {"Done", "Won't Do"}
        assert {t["name"]: t.get("hierarchyLevel") for t in reader.records("issue_types")}[
            "Epic"
        ] == 1
        boards = list(reader.records("boards"))
        assert len(boards) == len(sb.boards) and all(b["rankCustomFieldId"] for b in boards)
        sprints = {s["id"]: s for s in reader.records("sprints")}
        assert {s["state"] for s in sprints.values()} == {"closed", "active", "future"}
        assert list(reader.records("snapshot_notes")) == []

        issues = {r["key"]: r for r in reader.records("issues")}
        sprint_field = _fields_by_custom(reader, "gh-sprint")
        rank_field = _fields_by_custom(reader, "gh-lexo-rank")
        in_sprints = [r for r in issues.values() if r["fields"].get(sprint_field)]
        assert in_sprints
        assert all(r["fields"].get(rank_field) for r in issues.values())
        assert any(r["fields"].get("parent") for r in issues.values())
        with_media = [
            a for r in issues.values() for a in r["attachments"] if a.get("mediaId") is not None
        ]
        assert with_media


def test_a_grant_without_software_scopes_backs_up_the_rest_and_says_so(featured):
    site = connect_site(featured, "acme")

    job = backup(site)

    assert job.status == "succeeded"
    assert "boards and sprints not backed up" in job.status_reason
    assert "read:sprint:jira-software" in job.status_reason
    reader = snapshot_reader(job)
    assert list(reader.records("boards")) == [] and list(reader.records("sprints")) == []
    notes = list(reader.records("snapshot_notes"))
    assert [n["part"] for n in notes] == ["boards and sprints"]
    assert list(reader.records("workflows"))
    assert not featured.state.request_log.where(path_prefix=f"/ex/jira/{site.cloud_id}/rest/agile")
