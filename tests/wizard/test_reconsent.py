"""Re-consent for Jira Software's scopes (issue 18): a site whose vendor grant lacks them keeps
backing up everything else and says so; staff bring it through the campaign tools (command and
admin action, invitation, reminders, funnel) and a customer admin through the wizard's journey
without the legacy part, against the sandbox over HTTP, until its backups hold sprints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupJob
from backups.services import backup_job_enqueue
from tenants.models import AuditEvent, JiraSite, MigrationCase, OAuthGrant
from tenants.scopes import required_scopes, software_scopes_missing
from tests.backups.conftest import run_to_end, snapshot_reader
from tests.conftest import mfa_client
from tests.connect.conftest import TEST_REDIRECT_URI, connected_grant
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    MembershipFactory,
    OAuthGrantFactory,
    TenantFactory,
    UserFactory,
)
from tests.ops.test_actions import act, said
from tests.wizard.conftest import authorize, wizard_url

S = MigrationCase.State
RECONSENT = MigrationCase.Purpose.RECONSENT


@dataclass
class ReconsentWorld:
    tenant: object
    owner: object
    site: JiraSite
    grant: OAuthGrant
    case: MigrationCase | None = None


@pytest.fixture
def world(wizard_sandbox, db) -> ReconsentWorld:
    """Tenant ``acme-corp`` whose site ``acme`` (with boards and sprints) is on a vendor grant
    consented before the app asked for Jira Software's scopes."""
    sandbox = wizard_sandbox
    sandbox.state.reset(seed="test", features="all", projects=1, issues=12)
    app = sandbox.state.clients[sandbox.client_id]
    if TEST_REDIRECT_URI not in app.redirect_uris:
        app.redirect_uris.append(TEST_REDIRECT_URI)
    tenant = TenantFactory(slug="acme-corp", name="Acme Corp", contact_emails=["ops@acme.test"])
    owner = MembershipFactory(tenant=tenant, role="owner", user__email="owner@acme.test").user
    grant, (site,) = connected_grant(sandbox, tenant=tenant, expired=False)
    grant.scopes = sorted(required_scopes())
    grant.save(update_fields=["scopes"])
    JiraSite.objects.filter(pk=site.pk).update(grant=grant)
    site.refresh_from_db()
    return ReconsentWorld(tenant, owner, site, grant)


@pytest.fixture
def owner_client(world) -> Client:
    client = Client()
    client.force_login(world.owner)
    return client


def backup(site) -> BackupJob:
    job = run_to_end(backup_job_enqueue(site=site, acting_user=None)[0])
    assert job.status == BackupJob.Status.SUCCEEDED, job.status_reason
    return job


def campaign(*args: str) -> list[dict]:
    out = StringIO()
    call_command("send_reconsent_invites", "--format", "json", *args, stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def link_path(message) -> str:
    link = next(w for w in message.body.split() if "/migrate/invite/" in w)
    return urlsplit(link).path


def test_a_site_goes_from_a_grant_without_software_scopes_to_backups_with_sprints(
    world, owner_client, wizard_sandbox, settings, django_capture_on_commit_callbacks, client
):
    sandbox = wizard_sandbox
    label = f"{world.site.url} (acme-corp)"
    # Before: everything else is backed up, and the job says what it left out.
    before = backup(world.site)
    assert "boards and sprints not backed up" in before.status_reason
    assert list(snapshot_reader(before).records("sprints")) == []

    # Staff: the dry run names the site and writes nothing.
    assert campaign("--dry-run") == [{"item": label, "result": "would be done", "reason": ""}]
    assert not MigrationCase.objects.exists() and not mail.outbox

    with django_capture_on_commit_callbacks(execute=True):
        assert campaign() == [{"item": label, "result": "done", "reason": ""}]
    case = MigrationCase.objects.get(site=world.site)
    assert case.purpose == RECONSENT and case.state == S.INVITED
    assert case.legacy_credential_id is None and case.due_at > timezone.now() + timedelta(days=29)
    assert [m.to for m in mail.outbox] == [["ops@acme.test"], ["owner@acme.test"]]
    invitation = mail.outbox[1]
    assert invitation.subject == "Action needed: allow backups of your Jira boards and sprints"
    assert "without sprint data" in invitation.body and world.site.url in invitation.body

    # A second run sends nothing: the invited case is left to the reminders.
    with django_capture_on_commit_callbacks(execute=True):
        assert campaign() == [{"item": label, "result": "skipped", "reason": "already invited"}]
    assert len(mail.outbox) == 2
    settings.MIGRATION_REMINDER_DAYS = [30]
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_reauth_reminders", stdout=StringIO(), stderr=StringIO())
    assert [m.subject for m in mail.outbox[2:]] == [
        "Reminder: allow backups of your Jira boards and sprints"
    ] * 2

    # The customer admin opens the link: the funnel's "opened", then the wizard's first step.
    response = owner_client.get(link_path(invitation))
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.opened_at is not None
    world.case = case
    page = owner_client.get(wizard_url(world, "why"))
    assert page.status_code == 200
    assert b"boards, sprints and the rank order" in page.content
    assert b"read:sprint:jira-software" in page.content
    assert owner_client.get(wizard_url(world, "cutover")).status_code == 302  # no legacy part

    # The existing consent flow, asking for every scope; the grant is updated.
    with django_capture_on_commit_callbacks(execute=True):
        response = authorize(owner_client, world, sandbox)
    assert response.status_code == 302 and response["Location"] == wizard_url(world, "done")
    case.refresh_from_db()
    assert case.state == S.COMPLETED
    assert case.consented_at and case.verified_at and case.completed_at
    grant = OAuthGrant.objects.get(pk=world.grant.pk)
    assert software_scopes_missing(grant.scopes) == []
    assert JiraSite.objects.get(pk=world.site.pk).grant_id == grant.pk
    assert mail.outbox[-1].subject == "Done: your Jira boards and sprints are now backed up"
    done = owner_client.get(wizard_url(world, "done"))
    assert b"data-reconsent-done" in done.content

    # After: the next backup holds the sprints.
    sandbox.state.request_log.clear()
    after = backup(world.site)
    assert "not backed up" not in after.status_reason
    assert list(snapshot_reader(after).records("sprints"))
    assert sandbox.requests_where(path_prefix=f"/ex/jira/{world.site.cloud_id}/rest/agile")
    # Nothing is left to re-consent, so the campaign has nothing to do.
    assert campaign() == []

    # Staff see the funnel, each number linking to exactly its cases.
    staff = mfa_client(UserFactory(username="ops", superuser=True), client)
    funnel = staff.get(reverse("admin:ops_operations_changelist")).context["reconsent"]
    stages = {f.label: f for f in funnel["stages"]}
    assert [f.count for f in funnel["stages"]] == [1, 1, 1, 1]
    assert funnel["needing"].count == 0 and funnel["cases"].count == 1
    listed = staff.get(stages["Opened the link"].url).context["cl"]
    assert [c.pk for c in listed.result_list] == [case.pk]

    actions = set(AuditEvent.objects.filter(tenant=world.tenant).values_list("action", flat=True))
    assert {
        "migration_case.opened",
        "migration_case.invited",
        "migration_notice.sent",
        "migration_case.link_opened",
        "migration_case.consented",
        "migration_case.verified",
        "migration_case.completed",
    } <= actions


def test_a_consent_still_without_software_scopes_fails_the_case_naming_them(
    world, owner_client, wizard_sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        campaign()
    world.case = MigrationCase.objects.get(site=world.site, purpose=RECONSENT)

    authorize(owner_client, world, wizard_sandbox, scopes=" ".join(sorted(required_scopes())))

    world.case.refresh_from_db()
    assert world.case.state == S.FAILED
    assert "read:sprint:jira-software" in world.case.failure_reason
    grant = OAuthGrant.objects.get(pk=world.grant.pk)
    assert software_scopes_missing(grant.scopes)
    page = owner_client.get(wizard_url(world, "authorize"))
    assert b"read:sprint:jira-software" in page.content and b"Try again" in page.content
    assert AuditEvent.objects.filter(
        action="migration_case.verification_refused",
        summary__problem="software_scopes_missing",
    ).exists()
    # Trying again with every scope completes it.
    authorize(owner_client, world, wizard_sandbox)
    world.case.refresh_from_db()
    assert world.case.state == S.COMPLETED


def test_staff_invite_from_the_site_list_and_sites_that_need_nothing_are_skipped(
    world, client, settings
):
    staff = mfa_client(UserFactory(username="ops", superuser=True), client)
    full = OAuthGrantFactory(scopes=settings.ATLASSIAN_SCOPES.split())
    complete_site = JiraSiteFactory(tenant=world.tenant, grant=full)
    GrantSiteFactory(grant=full, site=complete_site)
    legacy_site = JiraSiteFactory(tenant=world.tenant, legacy=True)

    confirm = act(
        staff, JiraSite, "invite_reconsent", [world.site, complete_site, legacy_site], confirm=False
    )
    assert confirm.status_code == 200 and b"Jira Software" in confirm.content
    assert not MigrationCase.objects.exists()

    response = act(staff, JiraSite, "invite_reconsent", [world.site, complete_site, legacy_site])

    assert any("1 re-consent invitation sent" in m for m in said(response)), said(response)
    assert any("already carries Jira Software's scopes" in m for m in said(response))
    assert any("not on the vendor grant" in m for m in said(response))
    case = MigrationCase.objects.get(purpose=RECONSENT)
    assert case.site_id == world.site.pk and case.state == S.INVITED
    event = AuditEvent.objects.get(action="migration_case.opened")
    assert event.actor.username == "ops" and event.summary["purpose"] == RECONSENT
    # The site filter behind the dashboard's figure lists the site still waiting.
    listed = staff.get(reverse("admin:tenants_jirasite_changelist") + "?ops=reconsent")
    assert [s.pk for s in listed.context["cl"].result_list] == [world.site.pk]
