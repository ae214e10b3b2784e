"""On a phone (390 px), a page title naming a site keeps the site's host name whole: the URL
moves to a line of its own, and a URL longer than the line breaks only where a URL may (after
"//", "/" or "-"), never in the middle of a name. Screenshots in var/test-artifacts/phone-titles/."""

from __future__ import annotations

import pytest
from django.test import Client

from tenants.models import MigrationCase
from tests.browser.conftest import ARTIFACTS as ARTIFACTS_ROOT
from tests.factories import JiraSiteFactory, MembershipFactory, MigrationCaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = ARTIFACTS_ROOT / "phone-titles"
PHONE = {"width": 390, "height": 844}

# Each line of the title's URL as the browser laid it out.
URL_LINES = """() => {
    const span = document.querySelector('h1 .site-url');
    const text = span.firstChild;
    const lines = [];
    let top = null;
    for (let i = 0; i < text.length; i++) {
        const range = document.createRange();
        range.setStart(text, i);
        range.setEnd(text, i + 1);
        const y = Math.round(range.getBoundingClientRect().top);
        if (y !== top) { lines.push(''); top = y; }
        lines[lines.length - 1] += text.data[i];
    }
    return lines;
}"""


@pytest.fixture
def wizard_page(browser, live_server):
    def open_for(host: str, name: str):
        site = JiraSiteFactory(url=f"https://{host}", name=host.split(".")[0], legacy=True)
        case = MigrationCaseFactory(
            site=site, legacy_credential=site.legacy_credential, state=MigrationCase.State.INVITED
        )
        owner = MembershipFactory(tenant=site.tenant, role="owner").user
        client = Client()
        client.force_login(owner)
        context = browser.new_context(viewport=PHONE)
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        page = context.new_page()
        page.goto(f"{live_server.url}/t/{site.tenant.slug}/migrate/{case.pk}/why/")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
        return page

    return open_for


def test_a_site_url_in_the_wizard_title_stays_whole_on_a_phone(wizard_page):
    page = wizard_page("hooli.atlassian.net", "short-host")

    assert page.evaluate(URL_LINES) == ["https://hooli.atlassian.net"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_url_longer_than_the_line_breaks_only_where_a_url_may(wizard_page):
    page = wizard_page("umbrella-emea-production-eu.atlassian.net", "long-host")

    lines = page.evaluate(URL_LINES)

    assert "".join(lines) == "https://umbrella-emea-production-eu.atlassian.net"
    assert len(lines) > 1
    assert all(line.endswith(("/", "-")) for line in lines[:-1]), lines
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
