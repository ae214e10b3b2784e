"""Every admin action: a confirmation page first, then the service, then one summary message."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import TestCase
from django.urls import reverse

from backups.models import BackupJob
from tenants.models import AuditEvent, LegacyCredential, MigrationCase, OAuthGrant, Tenant
from tests.backups.conftest import backup, connect_site
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    MigrationCaseFactory,
    TenantFactory,
)


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def act(client, model, action, objects, *, confirm=True, **data):
    """POST the action from the changelist; with ``confirm`` POST the confirmation too.
    Returns the last response; on-commit side effects (e-mail) run."""
    payload = {"action": action, "_selected_action": [str(o.pk) for o in objects], **data}
    if confirm:
        payload["confirm"] = "yes"
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(changelist(model), payload, follow=True)


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_every_action_first_shows_a_confirmation_page_and_changes_nothing(superuser_client):
    tenant = TenantFactory()
    response = act(superuser_client, Tenant, "suspend_tenants", [tenant], confirm=False)
    assert response.status_code == 200
    assert b"Suspend tenants" in response.content and b'name="confirm"' in response.content
    assert str(tenant).encode() in response.content
    tenant.refresh_from_db()
    assert tenant.status == "active"


@pytest.mark.django_db
def test_send_invitations_from_the_admin_invites_then_reminds_then_skips(superuser_client):
    cases = [MigrationCaseFactory() for _ in range(2)]
    response = act(superuser_client, MigrationCase, "send_invitations", cases)
    assert said(response) == ["2 invitations or reminders sent"]
    assert {c.state for c in MigrationCase.objects.all()} == {"invited"}
    assert mail.outbox
    mail.outbox.clear()
    act(superuser_client, MigrationCase, "send_invitations", cases)  # a manual reminder
    response = act(superuser_client, MigrationCase, "send_invitations", cases)
    assert said(response) == [
        "0 invitations or reminders sent, 2 skipped: this reminder was already sent"
    ]


@pytest.mark.django_db
def test_send_invitations_from_a_tenant_reaches_its_cases_only(superuser_client):
    case, other = MigrationCaseFactory(), MigrationCaseFactory()
    act(superuser_client, Tenant, "send_invitations", [case.site.tenant])
    case.refresh_from_db()
    other.refresh_from_db()
    assert (case.state, other.state) == ("invited", "pending")


@pytest.mark.django_db
def test_run_backup_now_queues_one_job_per_site_and_skips_running_ones(superuser_client):
    tenant = TenantFactory()
    busy, idle = JiraSiteFactory(tenant=tenant), JiraSiteFactory(tenant=tenant)
    BackupJob.objects.create(site=busy, status="running")
    response = act(superuser_client, Tenant, "run_backups", [tenant])
    assert said(response) == ["1 backup queued, 1 skipped: a backup is already running"]
    assert BackupJob.objects.get(site=idle).status == "queued"
    event = AuditEvent.objects.get(action="backup.job_enqueued")
    assert event.actor == superuser_client.user


@pytest.mark.django_db
def test_refresh_grant_now_rotates_the_tokens_through_the_sandbox(superuser_client, connected):
    grant, _ = connected()
    before = grant.refresh_token
    response = act(superuser_client, OAuthGrant, "refresh_grants", [grant])
    assert said(response) == ["1 grant refreshed"]
    grant.refresh_from_db()
    assert grant.refresh_token != before


@pytest.mark.django_db
def test_mark_exempt_needs_a_reason_and_records_the_approver(superuser_client):
    case = MigrationCaseFactory()
    response = act(superuser_client, MigrationCase, "mark_exempt", [case], reason="  ")
    assert b"required" in response.content
    case.refresh_from_db()
    assert case.state == "pending"
    response = act(
        superuser_client, MigrationCase, "mark_exempt", [case], reason="on-premise next year"
    )
    assert said(response) == ["1 case exempted"]
    case.refresh_from_db()
    assert case.state == "exempt" and case.exempted_by == superuser_client.user
    assert case.exemption_justification == "on-premise next year"


@pytest.mark.django_db
def test_suspend_tenant_needs_a_reason_and_skips_suspended_ones(superuser_client):
    active, suspended = TenantFactory(), TenantFactory(suspended=True)
    response = act(
        superuser_client, Tenant, "suspend_tenants", [active, suspended], reason="unpaid"
    )
    assert said(response) == ["1 tenant suspended, 1 skipped: already suspended"]
    active.refresh_from_db()
    assert active.status == "suspended" and active.status_reason == "unpaid"


def _migrated_credential():
    case = MigrationCaseFactory(state=MigrationCase.State.CUT_OVER)
    GrantSiteFactory(site=case.site, in_use=True)
    LegacyCredential.objects.filter(pk=case.legacy_credential_id).update(status="migrated")
    return LegacyCredential.objects.get(pk=case.legacy_credential_id)


@pytest.mark.django_db
def test_purge_shreds_verified_credentials_and_skips_the_others_unless_ticked(as_role):
    security = as_role("Security admin")
    migrated, in_use = _migrated_credential(), MigrationCaseFactory().legacy_credential
    response = act(
        security, LegacyCredential, "purge_legacy_credentials", [migrated, in_use], reason="done"
    )
    assert said(response) == [
        "1 credential purged, 1 skipped: still used by a site "
        "(confirm it explicitly to purge anyway)"
    ]
    in_use.refresh_from_db()
    assert in_use.has_secret
    act(
        security,
        LegacyCredential,
        "purge_legacy_credentials",
        [in_use],
        reason="customer left",
        include_unverified="on",
    )
    in_use.refresh_from_db()
    assert in_use.status == "purged" and not in_use.has_secret


@pytest.mark.django_db
def test_start_restore_queues_a_dry_run_of_a_real_snapshot(superuser_client, backup_env):
    from backups.models import Snapshot
    from backups.restore.models import RestoreJob

    site = connect_site(backup_env, "acme")
    backup(site)
    snapshot = Snapshot.objects.get(site=site)
    response = act(superuser_client, Snapshot, "start_restore", [snapshot], dry_run="on")
    assert said(response) == ["1 restore dry run queued"]
    job = RestoreJob.objects.get()
    assert job.dry_run and job.target_site == site


@pytest.mark.django_db
def test_a_refused_restore_is_listed_as_failed(superuser_client):
    from datetime import timedelta

    from django.utils import timezone

    from backups.models import Snapshot

    now = timezone.now()
    snapshot = Snapshot.objects.create(
        site=JiraSiteFactory(),
        kind="full",
        format_version=1,
        manifest_path="missing",
        manifest_sha256="0" * 64,
        started_at=now - timedelta(minutes=1),
        completed_at=now,
        status="pruned",
    )
    response = act(superuser_client, Snapshot, "start_restore", [snapshot])
    messages = said(response)
    assert messages[0] == "0 restores queued, 1 failed"
    assert "cannot be restored" in messages[1]


@pytest.mark.django_db
def test_an_expired_invitation_is_sent_again_not_reminded(superuser_client):
    case = MigrationCaseFactory(state=MigrationCase.State.INVITE_EXPIRED)
    response = act(superuser_client, MigrationCase, "send_invitations", [case])
    assert said(response) == ["1 invitation or reminder sent"]
    case.refresh_from_db()
    assert case.state == "invited"
    assert case.notices.get().kind == "invitation"
