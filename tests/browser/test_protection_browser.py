"""The customer's Protection page in Chromium, on a desktop and at 390 px: every state with its
one action, readable without horizontal scrolling, reachable by keyboard; "run a backup now"
works. Screenshots land in var/test-artifacts/protection/<test>/ (gitignored)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress

from backups.models import BackupJob
from tests.browser.conftest import ARTIFACTS as ARTIFACTS_ROOT
from tests.factories import MembershipFactory, TenantFactory
from tests.protection.conftest import Customer, sweep
from tests.protection.test_states_everywhere import build_every_state

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple 42"
ARTIFACTS = ARTIFACTS_ROOT / "protection"


@pytest.fixture
def shots(request):
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def customer_with_every_state(portal):
    tenant = TenantFactory(slug="acme-corp", name="Acme Corp")
    owner = MembershipFactory(tenant=tenant, role="owner", user__email="owner@acme.test").user
    owner.set_password(PASSWORD)
    owner.save()
    EmailAddress.objects.create(user=owner, email=owner.email, verified=True, primary=True)
    sites = build_every_state(tenant)
    sweep()
    return Customer(tenant, owner, None, None), sites


def _sign_in(page, portal, user) -> None:
    page.goto(f"{portal.url}/accounts/login/?next=/t/acme-corp/protection/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(re.compile(r"/t/acme-corp/protection/$"))


def test_the_protection_page_shows_each_site_and_its_one_fix_on_desktop_and_phone(
    page, portal, customer_with_every_state, shots
):
    customer, sites = customer_with_every_state
    _sign_in(page, portal, customer.owner)
    shots(page, "01-desktop")

    assert page.get_by_role("heading", level=1).inner_text() == "Protection of Acme Corp"
    rows = page.locator("table.sites tbody tr")
    assert rows.count() == 10
    summary = page.get_by_role("list", name="Sites by state").inner_text()
    for text in ("Protected: 2", "Overdue: 1", "Failing: 1", "Paused: 3", "Unprotected: 2"):
        assert text in summary
    # Each problem shows its one action.
    assert page.get_by_role("link", name=re.compile(r"^Re-authorize: ")).count() == 2
    assert page.get_by_role("link", name=re.compile(r"^Move to our app: ")).count() == 1
    assert page.get_by_role("button", name=re.compile(r"^Run a backup now: ")).count() == 2
    assert page.get_by_role("link", name=re.compile(r"^Contact support: ")).count() == 2
    assert page.get_by_role("link", name=re.compile(r"^Connect again: ")).count() == 1
    reauth = page.get_by_role("link", name=re.compile(r"^Re-authorize: .*revoked"))
    assert reauth.get_attribute("href") == "/t/acme-corp/connect/"

    # Keyboard: the first stop is the skip link.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"

    # A phone: every site is a card, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    shots(page, "02-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    failing = page.locator("table.sites tbody tr", has_text="broken")
    assert "Failing" in failing.inner_text()
    assert failing.locator("td[data-label=State]").is_visible()
    assert failing.get_by_role("button", name=re.compile("Run a backup now")).is_visible()

    # Running a backup now: the failing site's backup starts.
    failing.get_by_role("button", name=re.compile("Run a backup now")).click()
    page.wait_for_url(re.compile(r"/t/acme-corp/protection/$"))
    shots(page, "03-backup-started")
    assert "A backup of https://broken.atlassian.net has started." in page.inner_text("main")
    assert BackupJob.objects.filter(site=sites["failing"], status="queued").exists()
    assert "running now" in page.locator("table.sites tbody tr", has_text="broken").inner_text()
