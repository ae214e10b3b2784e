"""Re-consent for Jira Software's scopes in Chromium (issue 18): the campaign's e-mail → sign in
→ the wizard's three steps (why, authorize, done) → the sandbox's consent page asking for every
scope → done, the grant carrying Jira Software's scopes. Screenshots land in
var/test-artifacts/reconsent/<test>/."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from ops import bulk
from tenants.models import JiraSite, Membership, MigrationCase, OAuthGrant
from tenants.scopes import required_scopes, software_scopes_missing
from tests.browser.test_wizard_browser import PASSWORD, consent
from tests.connect.conftest import connected_grant
from tests.factories import TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ARTIFACT_FOLDER = "reconsent"


@pytest.fixture
def invited(portal, sandbox):
    """Site ``acme`` on a grant consented before the app asked for Jira Software's scopes, a
    contact with an account (verified address), and the re-consent invitation."""
    tenant = TenantFactory(slug="acme-corp", name="Acme Corp", contact_emails=["ops@acme.test"])
    grant, (site,) = connected_grant(sandbox, tenant=tenant, expired=False)
    grant.scopes = sorted(required_scopes())
    grant.save(update_fields=["scopes"])
    JiraSite.objects.filter(pk=site.pk).update(grant=grant)
    contact = UserFactory(email="ops@acme.test", username="ops")
    contact.set_password(PASSWORD)
    contact.save()
    EmailAddress.objects.create(user=contact, email=contact.email, verified=True, primary=True)
    mail.outbox.clear()
    outcome = bulk.send_reconsent_invitations(JiraSite.objects.filter(pk=site.pk), acting_user=None)
    assert not outcome.failed
    [message] = [m for m in mail.outbox if m.to == ["ops@acme.test"]]
    link = re.search(r"http://\S+/migrate/invite/\S+/", message.body).group(0)
    return site, grant, contact, link


def test_a_contact_authorizes_jira_softwares_scopes_in_three_steps(invited, page, shots, sandbox):
    site, grant, contact, link = invited
    page.goto(link)
    invitation = page.locator("[data-invitation]").inner_text()
    assert contact.email in invitation and "boards and sprints" in invitation
    shots(page, "01-invitation")
    page.get_by_role("link", name=re.compile("sign in")).click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=password]", PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(re.compile(r"/migrate/\d+/why/$"))
    shots(page, "02-why")
    assert Membership.objects.filter(user=contact, tenant=site.tenant).exists()
    steps = page.locator(".wizard-steps li").all_inner_texts()
    assert [s.strip() for s in steps] == ["Why", "Authorize", "Done"]
    assert "boards, sprints and the rank order" in page.locator("main").inner_text()
    assert "Back up the boards and sprints" in page.locator("h1").inner_text()
    # The page reflows on a phone-sized screen.
    page.set_viewport_size({"width": 375, "height": 740})
    shots(page, "02-why-narrow")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    page.set_viewport_size({"width": 1024, "height": 800})

    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(re.compile(r"/authorize/$"))
    assert page.locator('[aria-current="step"]').inner_text() == "Authorize"
    shots(page, "03-authorize")
    page.get_by_role("button", name=re.compile("on Atlassian")).click()
    page.wait_for_selector("#email")
    assert "read:sprint:jira-software" in page.content()  # the consent page lists every scope
    consent(page, shots, sandbox, name="04-consent")
    page.wait_for_url(re.compile(r"/done/$"))
    shots(page, "05-done")
    assert page.locator('[aria-current="step"]').inner_text() == "Done"
    assert "boards, sprints and rank order" in page.locator("[data-reconsent-done]").inner_text()

    case = MigrationCase.objects.get(site=site, purpose=MigrationCase.Purpose.RECONSENT)
    assert case.state == MigrationCase.State.COMPLETED and case.opened_at is not None
    assert software_scopes_missing(OAuthGrant.objects.get(pk=grant.pk).scopes) == []
