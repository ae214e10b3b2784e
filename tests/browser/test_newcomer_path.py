"""Acceptance (issue 20): a newcomer's first hour, in Chromium, on non-default ports.

``make run`` (the real target, in a scratch VAR_DIR and env file, on two free ports: see
``tests/smoke/test_make_run.py``) seeds the demo; then, as the README tells it:

1. staff sign in to the admin as the printed superuser, set up the authenticator app with the
   secret the page shows (the code computed as an authenticator app would), save the recovery
   codes and reach the operations dashboard;
2. the invited customer opens the invitation link the seed printed, signs up from it (the
   address filled in), confirms with the link of the e-mail the portal printed, and lands in the
   wizard as a member of the inviting tenant;
3. the demo's first "Authorize on Atlassian" shows the sandbox's consent page with the
   customer's site; approving it as the site's administrator brings the case to "verified".

Screenshots of every step are kept in <ARTIFACTS>/newcomer/<test>/.
"""

from __future__ import annotations

import re
import sqlite3
import time

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

from tests.smoke.test_make_run import make_run, stop, wait_for_text

pytestmark = [pytest.mark.browser]

ARTIFACT_FOLDER = "newcomer"
PASSWORD = "a newcomer's long passphrase 20"
TOTP_PERIOD = 30


def totp_now(secret: str) -> str:
    """The code an authenticator app shows now; waits for a fresh period when this one is about
    to end, so the code is still current when the form reaches the server."""
    if TOTP_PERIOD - time.time() % TOTP_PERIOD < 5:
        time.sleep(TOTP_PERIOD - time.time() % TOTP_PERIOD + 0.5)
    return format_hotp_value(hotp_value(secret, int(time.time() // TOTP_PERIOD)))


def wait_for_match(path, pattern: str, process, seconds: float = 60) -> re.Match:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(pattern, path.read_text(errors="replace"))
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{pattern!r} never appeared: {path.read_text()[-3000:]}")


@pytest.mark.timeout(900)  # make run: migrate, five processes, seeding; then three journeys
def test_a_newcomer_runs_the_demo_on_other_ports_signs_in_and_migrates_a_customer(
    tmp_path, browser, shots
):
    process, log, env = make_run(tmp_path)
    portal = f"http://127.0.0.1:{env['PORTAL_PORT']}"
    sandbox = f"http://127.0.0.1:{env['SANDBOX_PORT']}"
    staff = customer = None
    try:
        seeded = wait_for_text(log, r"Sign in as .*password: \S+", time.monotonic() + 400, process)
        assert seeded, log.read_text()[-3000:]
        output = log.read_text()
        password = re.search(r"Sign in as\s+admin@example\.com\s+password: (\S+)", output)[1]
        invitation = re.search(
            rf"({re.escape(portal)}/migrate/invite/\S+/)", output.split("Customer", 1)[1]
        )[1]

        # 1. Staff: password, authenticator set-up, recovery codes, the dashboard.
        staff = browser.new_context(viewport={"width": 1366, "height": 768})
        staff.set_default_timeout(30_000)
        page = staff.new_page()
        page.goto(f"{portal}/admin/")
        page.wait_for_url(re.compile(r"/accounts/login/"))
        page.fill("input[name=login]", "admin@example.com")
        page.fill("input[name=password]", password)
        shots(page, "01-staff-sign-in")
        page.locator("form:has(input[name=password]) button[type=submit]").click()
        page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
        secret = page.locator("#totp-secret").get_attribute("data-secret")
        assert secret and page.locator("#totp-secret").is_visible()
        shots(page, "02-authenticator")
        page.fill("#id_code", totp_now(secret))
        page.get_by_role("button", name="Activate").click()
        page.wait_for_url(re.compile(r"/accounts/2fa/recovery-codes/"))
        shots(page, "03-recovery-codes")
        page.locator("#continue").click()
        page.wait_for_url(re.compile(r"/admin/$"))
        page.locator("#ops-start").get_by_role("link", name="Operations dashboard").click()
        page.wait_for_selector("h2:has-text('Migration funnel')")
        shots(page, "04-dashboard")

        # 2. The invited customer signs up from the invitation and lands in the wizard.
        customer = browser.new_context(viewport={"width": 1024, "height": 800})
        customer.set_default_timeout(30_000)
        page = customer.new_page()
        page.goto(invitation)
        named = page.locator("[data-invitation]").inner_text()
        assert "Hooli (demo)" in named and "it@hooli.example.com" in named
        shots(page, "05-invitation")
        page.get_by_role("link", name="Create your account").click()
        page.wait_for_url(re.compile(r"/accounts/signup/"))
        assert page.input_value("input[name=email]") == "it@hooli.example.com"
        page.fill("input[name=password1]", PASSWORD)
        page.fill("input[name=password2]", PASSWORD)
        shots(page, "06-sign-up")
        page.locator("form:has(input[name=password1]) button[type=submit]").click()
        page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
        # The portal's own confirmation e-mail, printed by the web process (console backend).
        confirm = wait_for_match(
            log, rf"{re.escape(portal)}/accounts/confirm-email/[^\s/]+/", process
        )[0]
        mail = log.read_text().split("Confirm your e-mail address", 1)[1].split(confirm, 1)[0]
        assert "Hooli (demo)" in mail
        page.goto(confirm)
        shots(page, "07-confirm")
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_url(re.compile(r"/t/demo-hooli/migrate/\d+/why/$"))
        assert "not a member" not in page.content()
        shots(page, "08-wizard")

        # 3. The first authorization shows the consent page, for the right site, and completes.
        page.get_by_role("link", name="Continue").click()
        page.wait_for_url(re.compile(r"/authorize/$"))
        page.get_by_role("button", name="Authorize on Atlassian").click()
        page.wait_for_url(re.compile(rf"^{re.escape(sandbox)}/authorize"))
        assert "requesting access" in page.locator("h1").inner_text()
        hooli = page.locator("#site option", has_text="hooli")
        assert hooli.count() == 1
        page.fill("#email", "admin@hooli.test")
        page.select_option("#site", hooli.get_attribute("value"))
        shots(page, "09-consent")
        page.get_by_role("button", name="Accept").click()
        page.wait_for_url(re.compile(rf"^{re.escape(portal)}/t/demo-hooli/migrate/\d+/verify/$"))
        assert page.locator('[aria-current="step"]').inner_text() == "Verify"
        # The default LEGACY_CUTOFF has passed: the site is paused, and the page says so.
        assert "backups of this site stay paused" in page.content()
        shots(page, "10-verified")
    finally:
        for context in (staff, customer):
            if context is not None:
                context.close()
        stop(process)

    with sqlite3.connect(tmp_path / "var" / "portal.sqlite3") as db:
        (state,) = db.execute(
            "select c.state from tenants_migrationcase c join tenants_jirasite s on c.site_id ="
            " s.id join tenants_tenant t on s.tenant_id = t.id where t.slug = 'demo-hooli'"
        ).fetchone()
        roles = db.execute(
            "select m.role from tenants_membership m join tenants_user u on m.user_id = u.id"
            " join tenants_tenant t on m.tenant_id = t.id"
            " where t.slug = 'demo-hooli' and u.email = 'it@hooli.example.com'"
        ).fetchall()
    assert state == "verified"
    assert roles == [("admin",)]
