"""Scopes other than a plain window: a JQL query, "changed between T1 and T2 by account X",
and the requests refused before anything is stored."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from backups.exceptions import RollbackRefused
from backups.rollback.models import RollbackJob
from backups.rollback.services import rollback_job_create
from sandbox.content import issue_doc
from tenants.models import AuditEvent, Tenant
from tests.backups.conftest import backup, connect_site
from tests.rollback.conftest import make_bad_change, roll_back


def summary(sandbox, key: str) -> str:
    site = sandbox.site("acme")
    return issue_doc(site, site.issue(key))["fields"]["summary"]


def test_only_the_changes_of_the_named_account_are_rolled_back(backup_env, db):
    backup_env.state.reset(seed="rollback", projects=2, issues=40)
    site = connect_site(backup_env, "acme")
    snapshot = backup(site).snapshot
    sb = backup_env.site("acme")
    clock = backup_env.state.clock
    bot, person = sorted(a for a in sb.members if a not in sb.admins)[:2]
    keys = [i.key for i in sb.live_issues()][:6]
    before = {key: summary(backup_env, key) for key in keys}
    clock.advance(minutes=10)
    t1 = clock.now()
    clock.advance(minutes=1)
    backup_env.state.bulk_edit(
        "acme", issues=keys[:3], fields={"summary": "By the bot"}, author=bot
    )
    backup_env.state.bulk_edit(
        "acme", issues=keys[3:], fields={"summary": "By a person"}, author=person
    )
    clock.advance(minutes=1)
    t2 = clock.now()
    clock.advance(minutes=1)

    job = roll_back(snapshot, changed_from=t1, changed_to=t2, changed_by=bot)

    assert job.status == RollbackJob.Status.SUCCEEDED, job.status_reason
    assert sorted(job.items.values_list("issue_key", flat=True)) == sorted(keys[:3])
    assert [summary(backup_env, k) for k in keys[:3]] == [before[k] for k in keys[:3]]
    assert [summary(backup_env, k) for k in keys[3:]] == ["By a person"] * 3


def test_a_jql_scope_rolls_back_the_issues_the_query_finds(backup_env, db):
    bad = make_bad_change(backup_env, issues=40, edited=6, comments=0)
    query = 'summary ~ "Overwritten"'

    job = roll_back(bad.snapshot, jql=query)

    assert job.status == RollbackJob.Status.SUCCEEDED, job.status_reason
    rolled = set(job.items.values_list("issue_key", flat=True))
    assert rolled == set(bad.edited) - set(bad.summary_after)
    assert all(summary(backup_env, k) != "Overwritten by automation" for k in rolled)
    for key, later in bad.summary_after.items():
        assert summary(backup_env, key) == later  # the query did not find them: untouched


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"issue_keys": ["ALPHA-1"], "jql": "project = ALPHA"}, "choose one scope"),
        ({"issue_keys": ["not a key"]}, "is not an issue key"),
        ({"changed_from": "T1"}, "needs both its start and its end"),
        ({"changed_from": "T2", "changed_to": "T1"}, "ends before it starts"),
        ({"changed_by": "5b10ac8d82e05b22cc7d4ef5"}, "narrows a time window"),
        ({"changed_from": "naive", "changed_to": "T2"}, "need a time zone"),
    ],
)
def test_a_bad_request_is_refused_and_stores_nothing(db, request_, message):
    from tests.factories import JiraSiteFactory

    site = JiraSiteFactory()
    snapshot = _snapshot_row(site)
    t1, t2 = timezone.now() - timedelta(hours=2), timezone.now()
    times = {"T1": t1, "T2": t2, "naive": datetime(2026, 1, 1, 12, 0)}
    args = {k: times.get(v, v) if isinstance(v, str) else v for k, v in request_.items()}
    with pytest.raises(RollbackRefused, match=message):
        rollback_job_create(snapshot=snapshot, acting_user=None, enqueue=False, **args)
    assert not RollbackJob.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="rollback.").exists()


def test_a_suspended_tenant_gets_no_roll_back(db):
    from tests.factories import JiraSiteFactory

    site = JiraSiteFactory()
    Tenant.objects.filter(pk=site.tenant_id).update(status=Tenant.Status.SUSPENDED)
    site.refresh_from_db()
    with pytest.raises(RollbackRefused):
        rollback_job_create(
            snapshot=_snapshot_row(site), issue_keys=["ALPHA-1"], acting_user=None, enqueue=False
        )
    assert not RollbackJob.objects.exists()


def _snapshot_row(site):
    from tests.ops.test_command_convention import snapshot_row

    return snapshot_row(site)
