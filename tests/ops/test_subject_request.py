"""``manage.py subject_request``: staff answer a data-subject request from the command line
(issue 22 item 6): the snapshots holding a Jira account's data, its export to a file, its
redaction; a dry run and bad input change nothing."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backups.snapshots.objects import ObjectStore
from backups.subjects import subject_find
from tenants.models import AuditEvent
from tests.backups.conftest import backup, connect_site, snapshot_reader
from tests.backups.test_subjects import _person


def run(*argv: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("subject_request", *argv, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def person(backup_env, db):
    backup_env.state.reset(seed="test", projects=1, issues=12)
    site = connect_site(backup_env, "acme")
    job = backup(site)
    account, name = _person(snapshot_reader(job))
    return site, job, account, name


def stored(site) -> dict[str, bytes]:
    store = ObjectStore(site.cloud_id)
    return {sha: store.read(sha) for sha in store.list_all()}


def test_find_lists_the_snapshots_holding_the_person_and_writes_nothing(person):
    site, job, account, _name = person
    before = stored(site)

    out, err = run("--tenant", site.tenant.slug, "--account", account, "--format", "json")

    rows = json.loads(out)
    assert [r["snapshot"] for r in rows] == [str(job.snapshot_id)]
    assert rows[0]["records"] > 0 and rows[0]["site"] == site.url
    assert "1 snapshot of" in err
    assert stored(site) == before
    assert not AuditEvent.objects.filter(action__startswith="backup.subject").exists()


def test_a_dry_run_redaction_changes_nothing(person):
    site, _job, account, _name = person
    before = stored(site)

    out, _err = run("--tenant", site.tenant.slug, "--account", account, "--redact", "--dry-run")

    assert "dry run" in out and "would be redacted" in out
    assert stored(site) == before
    assert not AuditEvent.objects.filter(action__startswith="backup.subject").exists()


def test_export_writes_the_persons_records_and_is_audited(person, tmp_path):
    site, job, account, name = person
    target = tmp_path / "export.json"

    _out, _err = run("--tenant", site.tenant.slug, "--account", account, "--export", str(target))

    document = json.loads(target.read_text())
    assert document["account_id"] == account and name in document["names"]
    assert document["snapshots"][str(job.snapshot_id)]["issues"]
    event = AuditEvent.objects.get(action="backup.subject_exported")
    assert event.tenant_id == site.tenant_id


def test_redact_removes_the_name_from_storage_and_is_audited(person):
    site, _job, account, name = person

    out, _err = run("--tenant", site.tenant.slug, "--account", account, "--redact")

    assert "redacted from 1 snapshot" in out
    assert AuditEvent.objects.filter(action="backup.subject_redacted").count() == 1
    found, _ = run("--tenant", site.tenant.slug, "--account", account, "--format", "json")
    # The account id stays (it links the records); the person's name is gone from every object.
    assert json.loads(found)
    _, names = subject_find(tenant=site.tenant, account_id=account)
    assert name not in names


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tenant", "no-such-tenant", "--account", "x"], "unknown tenant: no-such-tenant"),
        (["--tenant", "{tenant}", "--account", "  "], "needs a Jira account id"),
        (
            ["--tenant", "{tenant}", "--account", "x", "--export", "/no/such/dir/out.json"],
            "no such directory",
        ),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(person, argv, message):
    site, _job, _account, _name = person
    before = stored(site)
    argv = [a.replace("{tenant}", site.tenant.slug) for a in argv]

    with pytest.raises(CommandError) as caught:
        run(*argv)

    assert caught.value.returncode == 2 and message in str(caught.value)
    assert stored(site) == before
    assert not AuditEvent.objects.filter(action__startswith="backup.subject").exists()


def test_staff_name_a_tenants_own_kms_key_and_go_back(db):
    from tests.factories import TenantFactory

    tenant = TenantFactory(slug="globex")
    arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

    out = io.StringIO()
    call_command("tenant_kms_key", "--tenant", "globex", "--key", arn, stdout=out)
    tenant.refresh_from_db()
    assert tenant.kms_key_id == arn and "now uses the customer's KMS key" in out.getvalue()
    assert AuditEvent.objects.filter(action="tenant.kms_key_set", tenant=tenant).count() == 1

    with pytest.raises(CommandError) as caught:
        call_command("tenant_kms_key", "--tenant", "globex", "--key", "not-a-key")
    assert caught.value.returncode == 2
    tenant.refresh_from_db()
    assert tenant.kms_key_id == arn  # bad input changes nothing

    call_command("tenant_kms_key", "--tenant", "globex", "--key", "platform", stdout=io.StringIO())
    tenant.refresh_from_db()
    assert tenant.kms_key_id == ""
    assert AuditEvent.objects.filter(action="tenant.kms_key_set", tenant=tenant).count() == 2
