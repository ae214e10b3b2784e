"""The migration wizard end to end in Chromium: invitation e-mail → sign in → wizard → the
sandbox's consent page → verification → cut-over → removal → done; the denial path and the
wrong-site path. A screenshot of every step lands in var/test-artifacts/wizard/<test>/."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from backups.models import BackupJob
from backups.services import backup_job_enqueue
from tenants.models import JiraSite, LegacyCredential, Membership, MigrationCase
from tenants.services.campaigns import migration_invite_send
from tests.backups.conftest import run_to_end
from tests.factories import UserFactory
from tests.wizard.conftest import legacy_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def invited(portal, sandbox):
    """A legacy site, a contact with an account (verified address) and the invitation mail."""
    world = legacy_world(sandbox)
    contact = UserFactory(email="ops@acme.test", username="ops")
    contact.set_password(PASSWORD)
    contact.save()
    EmailAddress.objects.create(user=contact, email=contact.email, verified=True, primary=True)
    mail.outbox.clear()
    migration_invite_send(case=world.case, acting_user=None)
    [message] = [m for m in mail.outbox if m.to == ["ops@acme.test"]]
    link = re.search(r"http://\S+/migrate/invite/\S+/", message.body).group(0)
    assert link.startswith(portal.url)
    return world, contact, link


def sign_in_through_invitation(page, link, shots, contact):
    page.goto(link)
    # The link names the invitation; signing in from it comes back and goes on.
    assert contact.email in page.locator("[data-invitation]").inner_text()
    shots(page, "01-invitation")
    page.get_by_role("link", name=re.compile("sign in")).click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    assert page.input_value("input[name=login]") == contact.email
    page.fill("input[name=password]", PASSWORD)
    shots(page, "02-sign-in")
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(re.compile(r"/migrate/\d+/why/$"))
    shots(page, "03-why")
    assert page.locator('[aria-current="step"]').inner_text() == "Why"
    # Keyboard: the first stop is the skip link; the page reflows on a phone-sized screen.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.set_viewport_size({"width": 375, "height": 740})
    shots(page, "03-why-narrow")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    page.set_viewport_size({"width": 1024, "height": 800})
    assert "days left" in page.locator("[data-deadline]").inner_text()


def go_to_consent(page, shots):
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(re.compile(r"/authorize/$"))
    assert page.locator('[aria-current="step"]').inner_text() == "Authorize"
    shots(page, "04-authorize")
    page.get_by_role("button", name=re.compile("on Atlassian")).click()
    page.wait_for_selector("#email")
    assert "requesting access" in page.locator("h1").inner_text()


def consent(page, shots, sandbox, *, site="acme", decision="Accept", name="05-consent"):
    page.fill("#email", sandbox.admin.email)
    page.select_option("#site", sandbox.site(site).cloud_id)
    shots(page, name)
    page.get_by_role("button", name=decision).click()


def test_a_contact_migrates_a_legacy_site_end_to_end(invited, page, shots, sandbox):
    world, contact, link = invited
    sign_in_through_invitation(page, link, shots, contact)
    assert Membership.objects.get(user=contact, tenant=world.tenant).role == "admin"

    go_to_consent(page, shots)
    consent(page, shots, sandbox)
    page.wait_for_url(re.compile(r"/verify/$"))
    shots(page, "06-verify")
    assert page.locator('[aria-current="step"]').inner_text() == "Verify"
    assert page.locator(".checks li").count() == 4

    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(re.compile(r"/cutover/$"))
    shots(page, "07-cutover")
    sandbox.state.request_log.clear()
    page.get_by_role("button", name="Switch now").click()
    page.wait_for_url(re.compile(r"/remove/$"))
    shots(page, "08-remove")
    assert "Security → API tokens" in page.content()

    # Submitting without confirming explains what is missing (keyboard only).
    page.get_by_role("button", name=re.compile("Confirm")).click()
    assert page.locator('[role="alert"]').count() >= 1
    page.get_by_label(re.compile("I revoked the API token")).focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name=re.compile("Confirm")).click()
    page.wait_for_url(re.compile(r"/done/$"))
    shots(page, "09-done")
    assert page.locator('[aria-current="step"]').inner_text() == "Done"

    case = MigrationCase.objects.get(pk=world.case.pk)
    assert case.state == MigrationCase.State.COMPLETED
    credential = LegacyCredential.objects.get(pk=world.credential.pk)
    assert credential.status == LegacyCredential.Status.PURGED
    assert all(
        getattr(credential, column) is None
        for column in (
            "api_token_ciphertext",
            "client_secret_ciphertext",
            "access_token_ciphertext",
            "refresh_token_ciphertext",
        )
    )
    assert any(m.subject.startswith("Done") for m in mail.outbox)
    site = JiraSite.objects.get(pk=world.site.pk)
    job = run_to_end(backup_job_enqueue(site=site, acting_user=None)[0])
    assert job.status == BackupJob.Status.SUCCEEDED, job.status_reason
    calls = sandbox.requests_where(site=sandbox.site("acme"))
    assert calls and {r.credential for r in calls} == {"bearer"}


def test_declining_on_the_consent_page_leads_back_with_an_explanation(
    invited, page, shots, sandbox
):
    world, contact, link = invited
    sign_in_through_invitation(page, link, shots, contact)
    go_to_consent(page, shots)

    consent(page, shots, sandbox, decision="Deny")

    page.wait_for_selector('[data-problem="access_denied"]')
    shots(page, "06-denied")
    assert MigrationCase.objects.get(pk=world.case.pk).state == MigrationCase.State.INVITED
    assert JiraSite.objects.get(pk=world.site.pk).legacy_credential_id == world.credential.pk


def test_authorizing_another_site_is_explained_and_nothing_changes(invited, page, shots, sandbox):
    world, contact, link = invited
    sign_in_through_invitation(page, link, shots, contact)
    go_to_consent(page, shots)

    consent(page, shots, sandbox, site="globex")

    page.wait_for_selector('[data-problem="verification"]')
    shots(page, "06-wrong-site")
    text = page.locator('[data-problem="verification"]').inner_text()
    assert "globex" in text and world.site.url in text
    case = MigrationCase.objects.get(pk=world.case.pk)
    assert case.state == MigrationCase.State.FAILED
    assert JiraSite.objects.get(pk=world.site.pk).legacy_credential_id == world.credential.pk
