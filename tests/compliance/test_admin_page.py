"""The compliance report in the admin: Security admin (and superusers) read it; others don't."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from tests.factories import LegacyCredentialFactory, TenantFactory
from tests.ops.conftest import mfa_client, staff_with_role

pytestmark = pytest.mark.django_db

URL = "/admin/atlassian/callstat/compliance/"


@pytest.fixture(autouse=True)
def cutoff_passed(settings):
    settings.LEGACY_CUTOFF = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_url_is_named():
    assert reverse("admin:atlassian_compliance_report") == URL


def test_a_security_admin_reads_the_report_with_deviations_and_links():
    credential = LegacyCredentialFactory(tenant=TenantFactory(name="Still on tokens"))
    client = mfa_client(staff_with_role("Security admin"))
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not compliant" in html
    assert "Still on tokens" in html
    assert f'href="/admin/tenants/legacycredential/{credential.pk}/change/"' in html
    assert 'id="cr-line-legacy_calls_after_cutoff"' in html
    assert response.context["report"].line("legacy_secrets").ok is False
    assert credential.api_token not in html


def test_the_call_ledger_list_links_to_the_report_for_those_who_may_read_it():
    security = mfa_client(staff_with_role("Security admin"))
    support = mfa_client(staff_with_role("Support"))
    changelist = reverse("admin:atlassian_callstat_changelist")
    assert 'id="compliance-report-link"' in security.get(changelist).content.decode()
    assert 'id="compliance-report-link"' not in support.get(changelist).content.decode()


@pytest.mark.parametrize("role", ["Support", "Operator", None])
def test_other_staff_are_refused(role):
    client = mfa_client(staff_with_role(role))
    assert client.get(URL).status_code == 403


def test_a_superuser_reads_it_and_a_bad_since_is_shown_not_crashed():
    client = mfa_client(staff_with_role(None, superuser=True))
    response = client.get(URL, {"since": "soon"})
    assert response.status_code == 200
    assert "since: &#x27;soon&#x27; is not a date" in response.content.decode()
    response = client.get(URL, {"since": "2026-01-01"})
    assert response.context["report"].since == datetime(2026, 1, 1, tzinfo=UTC)


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
