"""Customer-managed keys (issue 22): a tenant's own KMS key wraps its snapshot key; disabling it
pauses that tenant's jobs with a clear reason, tells the customer and staff once, and nothing
else breaks; enabling it again lets the job finish. moto stands in for AWS KMS."""

from __future__ import annotations

import boto3
import pytest
from django.core import mail
from moto import mock_aws

from backups.engine.runner import run_job
from backups.models import BackupJob
from backups.protection.models import Incident
from backups.services import backup_job_enqueue
from backups.snapshots import sealing
from tenants import keys
from tenants.models import DataKey
from tenants.services import tenant_set_kms_key
from tests.backups.conftest import backup, connect_site, snapshot_reader


@pytest.fixture
def kms(settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        settings.KMS_REGION_NAME = "eu-west-1"
        keys.forget_cached_keys()
        yield boto3.client("kms", region_name="eu-west-1")
    keys.forget_cached_keys()


def test_a_disabled_customer_key_pauses_only_that_tenants_backups_and_says_why(
    backup_env, db, kms, django_capture_on_commit_callbacks
):
    backup_env.state.reset(seed="test", projects=1, issues=8)
    acme = connect_site(backup_env, "acme")
    backup_env.state.add_site("bravo", projects=1, issues=8, admins=[backup_env.state.admin])
    other = connect_site(backup_env, "bravo")
    from tenants.models import Membership
    from tests.factories import UserFactory

    owner = UserFactory(username="owner", email="owner@acme.example")
    Membership.objects.create(user=owner, tenant=acme.tenant, role="owner")
    key = kms.create_key()["KeyMetadata"]
    tenant_set_kms_key(tenant=acme.tenant, kms_key_id=key["Arn"], acting_user=None)
    with pytest.raises(Exception, match="ARN"):
        tenant_set_kms_key(tenant=acme.tenant, kms_key_id="my key", acting_user=None)

    first = backup(acme)
    assert first.status == "succeeded", first.status_reason
    scope = sealing.tenant_scope(acme.tenant_id)
    assert DataKey.objects.get(scope=scope).kek_id == f"cmk{acme.tenant_id}"

    kms.disable_key(KeyId=key["KeyId"])
    keys.forget_cached_keys()  # a process notices within DATA_KEY_CACHE_SECONDS
    job, _ = backup_job_enqueue(site=acme, kind="full", acting_user=None)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = run_job(job.pk, slice_seconds=3600)
    job.refresh_from_db()
    assert outcome.state == "requeue" and outcome.countdown >= 600
    assert job.status in (BackupJob.Status.QUEUED, BackupJob.Status.RUNNING)  # handed back
    assert "KMS key" in job.current_step and "DisabledException" in job.current_step
    incident = Incident.objects.get(site=acme, kind="key", status="open")
    assert "KMS key" in incident.reason
    assert [m.subject for m in mail.outbox] == [
        f"Action needed: backups of {acme.name} are paused (your KMS key is disabled)"
    ]
    assert "Enable your AWS KMS key" in mail.outbox[0].body
    assert mail.outbox[0].to == ["owner@acme.example"]
    # Told once: the next attempt opens nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        run_job(job.pk, slice_seconds=3600)
    assert Incident.objects.filter(site=acme, kind="key").count() == 1 and len(mail.outbox) == 1

    # Nothing else breaks: the other tenant backs up, the earlier snapshot's rows stay.
    assert backup(other).status == "succeeded"

    kms.enable_key(KeyId=key["KeyId"])
    job.refresh_from_db()
    from backups.models import BackupJob as Job

    Job.objects.filter(pk=job.pk).update(not_before=None)
    from tests.backups.conftest import run_to_end

    finished = run_to_end(job)
    assert finished.status == "succeeded", finished.status_reason
    assert snapshot_reader(finished).manifest.counts["issues"] == 8
