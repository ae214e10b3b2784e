"""The migration wizard against the sandbox over HTTP: happy path to a purged legacy secret and
a backup through the grant, the denial and wrong-site paths, permission checks, resume."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from backups.models import BackupJob
from backups.services import backup_job_enqueue
from tenants.models import AuditEvent, JiraSite, LegacyCredential, MigrationCase, OAuthGrant
from tests.backups.conftest import run_to_end
from tests.factories import MembershipFactory
from tests.wizard.conftest import authorize, wizard_url

S = MigrationCase.State


def test_it_walks_from_the_legacy_token_to_a_backup_through_the_grant(
    world, owner_client, wizard_sandbox, django_capture_on_commit_callbacks
):
    sandbox = wizard_sandbox
    # Before the migration the legacy token still works (Basic auth to the site URL).
    legacy_job = run_to_end(backup_job_enqueue(site=world.site, acting_user=None)[0])
    assert legacy_job.status == BackupJob.Status.SUCCEEDED, legacy_job.status_reason
    assert sandbox.requests_where(credential="basic", site=sandbox.site("acme"))

    page = owner_client.get(wizard_url(world, "why"))
    assert page.status_code == 200
    assert b'aria-current="step"' in page.content and b"days left" in page.content

    response = authorize(owner_client, world, sandbox)
    assert response.status_code == 302 and response["Location"] == wizard_url(world, "verify")
    world.case.refresh_from_db()
    assert world.case.state == S.VERIFIED
    assert owner_client.get(wizard_url(world, "verify")).status_code == 200
    site = JiraSite.objects.get(pk=world.site.pk)
    assert site.legacy_credential_id == world.credential.pk  # nothing switched yet

    sandbox.state.request_log.clear()
    response = owner_client.post(wizard_url(world, "cutover/run"))
    assert response["Location"] == wizard_url(world, "remove")
    site.refresh_from_db()
    assert site.grant_id and site.legacy_credential_id is None
    assert site.status == JiraSite.Status.ACTIVE
    page = owner_client.get(wizard_url(world, "remove"))
    assert b"Security \xe2\x86\x92 API tokens" in page.content and b"Revoke" in page.content

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(wizard_url(world, "remove/confirm"), {"revoked": "yes"})
    assert response["Location"] == wizard_url(world, "done")
    world.case.refresh_from_db()
    assert world.case.state == S.COMPLETED
    credential = LegacyCredential.objects.get(pk=world.credential.pk)
    assert credential.status == LegacyCredential.Status.PURGED
    assert credential.api_token_ciphertext is None and not credential.has_secret
    assert [m.to for m in mail.outbox] == [["ops@acme.test"], ["owner@acme.test"]]
    assert "now uses our Atlassian app" in mail.outbox[0].body

    job = run_to_end(backup_job_enqueue(site=site, acting_user=None)[0])
    assert job.status == BackupJob.Status.SUCCEEDED, job.status_reason
    site_calls = sandbox.requests_where(site=sandbox.site("acme"))
    assert site_calls and {r.credential for r in site_calls} == {"bearer"}
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    for action in (
        "migration_case.consented",
        "migration_case.verified",
        "site.cut_over_to_grant",
        "migration_case.completed",
        "legacy_credential.purged",
    ):
        assert action in actions


def test_declining_on_atlassians_page_changes_nothing_and_explains(
    world, owner_client, wizard_sandbox
):
    response = authorize(owner_client, world, wizard_sandbox, decision="deny")

    assert response.status_code == 200
    assert b'data-problem="access_denied"' in response.content
    world.case.refresh_from_db()
    assert world.case.state == S.INVITED
    assert not OAuthGrant.objects.exists()
    assert JiraSite.objects.get(pk=world.site.pk).legacy_credential_id == world.credential.pk


def test_authorizing_another_site_is_refused_with_what_to_do(world, owner_client, wizard_sandbox):
    response = authorize(owner_client, world, wizard_sandbox, sites=("globex",))

    assert response["Location"] == wizard_url(world, "authorize")
    world.case.refresh_from_db()
    assert world.case.state == S.FAILED
    assert "globex" in world.case.failure_reason and world.site.url in world.case.failure_reason
    assert not OAuthGrant.objects.exists()
    assert not JiraSite.objects.filter(cloud_id=wizard_sandbox.site("globex").cloud_id).exists()
    page = owner_client.get(wizard_url(world, "authorize"))
    assert b"Use app on" in page.content and b"Try again" in page.content
    # Trying again works from the failed state.
    response = authorize(owner_client, world, wizard_sandbox)
    world.case.refresh_from_db()
    assert world.case.state == S.VERIFIED


def test_a_user_who_does_not_administer_the_site_is_refused(world, owner_client, wizard_sandbox):
    authorize(owner_client, world, wizard_sandbox, as_user=wizard_sandbox.member)

    world.case.refresh_from_db()
    assert world.case.state == S.FAILED
    assert "not an administrator" in world.case.failure_reason
    assert not OAuthGrant.objects.exists()


def test_a_read_only_consent_fails_the_case_naming_the_missing_scopes(
    world, owner_client, wizard_sandbox
):
    response = authorize(
        owner_client, world, wizard_sandbox, scopes="offline_access read:jira-work read:me"
    )

    assert response["Location"] == wizard_url(world, "authorize")
    world.case.refresh_from_db()
    assert world.case.state == S.FAILED
    for scope in ("write:jira-work", "manage:jira-project", "read:jira-user"):
        assert scope in world.case.failure_reason
    assert not OAuthGrant.objects.exists()
    page = owner_client.get(wizard_url(world, "authorize"))
    assert b"write:jira-work" in page.content
    # The admin check was never reached: nothing but the exchange and the identity calls.
    site = wizard_sandbox.site("acme")
    assert not wizard_sandbox.requests_where(path_prefix=f"/ex/jira/{site.cloud_id}/")


def test_the_customer_can_leave_and_resume_at_the_current_step(world, owner_client, wizard_sandbox):
    assert owner_client.get(wizard_url(world))["Location"] == wizard_url(world, "why")
    authorize(owner_client, world, wizard_sandbox)

    fresh = Client()
    fresh.force_login(world.owner)
    assert fresh.get(wizard_url(world))["Location"] == wizard_url(world, "verify")
    # A step that is not open yet sends the customer back to where they are.
    assert fresh.get(wizard_url(world, "done"))["Location"] == wizard_url(world, "verify")


def test_removal_needs_the_customers_confirmation(world, owner_client, wizard_sandbox):
    authorize(owner_client, world, wizard_sandbox)
    owner_client.post(wizard_url(world, "cutover/run"))

    response = owner_client.post(wizard_url(world, "remove/confirm"), {})

    assert response.status_code == 400
    assert b'role="alert"' in response.content
    assert LegacyCredential.objects.get(pk=world.credential.pk).has_secret


@pytest.mark.parametrize("role, status", [("viewer", 403), (None, 404)])
def test_only_owners_and_admins_of_the_tenant_reach_the_wizard(world, role, status):
    client = Client()
    extra = {"tenant": world.tenant} if role else {}  # else: owner of another tenant
    membership = MembershipFactory(role=role or "owner", **extra)
    client.force_login(membership.user)

    assert client.get(wizard_url(world, "why")).status_code == status
    assert client.post(wizard_url(world, "authorize/start")).status_code == status
    assert client.post(wizard_url(world, "cutover/run")).status_code == status


def test_an_ordinary_connect_callback_still_goes_through_the_connect_flow(
    world, owner_client, wizard_sandbox
):
    response = owner_client.get("/connect/callback/?state=not-a-wizard-state&code=x")
    assert response.status_code == 400
    assert b"does not match any connection" in response.content
