"""Each line of the compliance report: its goal, its figure and the evidence behind it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from ops.compliance import ATTENTION, VIOLATION, build_compliance_report, parse_since
from tests.compliance.ledger_rows import record_calls
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    LegacyCredentialFactory,
    OAuthGrantFactory,
    TenantFactory,
)

pytestmark = pytest.mark.django_db

CUTOFF = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
SINCE = datetime(2025, 10, 1, tzinfo=UTC)


def report(now=NOW, since=SINCE, cutoff=CUTOFF):
    with override_settings(LEGACY_CUTOFF=cutoff):
        return build_compliance_report(since=since, now=now)


def grant_site(tenant, **kwargs):
    site = JiraSiteFactory(tenant=tenant, **kwargs)
    GrantSiteFactory(site=site, in_use=True)
    site.refresh_from_db()
    return site


def test_an_empty_portal_is_compliant():
    result = report()
    assert result.ok and result.exit_code == 0
    assert result.deviations == []
    assert [line.status for line in result.lines if line.goal] == ["ok", "ok", "ok"]


def test_a_stored_secret_is_fine_before_the_cutoff_while_the_tenant_still_uses_it():
    site = JiraSiteFactory(legacy=True)
    result = report(now=CUTOFF - timedelta(days=10))
    assert result.ok
    assert result.legacy_secrets == [
        {
            "tenant_id": site.tenant_id,
            "tenant": site.tenant.name,
            "kind": "api_token",
            "count": 1,
            "tenant_migrated": False,
            "credentials": [
                {
                    "id": str(site.legacy_credential_id),
                    "status": "active",
                    "site_url": site.legacy_credential.site_url,
                    "url": f"/admin/tenants/legacycredential/{site.legacy_credential_id}/change/",
                }
            ],
        }
    ]


def test_a_secret_kept_by_a_migrated_tenant_is_a_violation_even_before_the_cutoff():
    tenant = TenantFactory(name="Moved on")
    grant_site(tenant)
    LegacyCredentialFactory(tenant=tenant, status="migrated")
    LegacyCredentialFactory(tenant=tenant, purged=True)  # shredded: not counted
    result = report(now=CUTOFF - timedelta(days=10))
    assert not result.ok
    assert result.line("legacy_secrets").figure == 1
    (deviation,) = result.violations
    assert (deviation.tenant, deviation.line) == ("Moved on", "legacy_secrets")
    assert deviation.url.startswith("/admin/tenants/legacycredential/")


def test_after_the_cutoff_every_stored_secret_is_a_violation_per_tenant_and_kind():
    a, b = TenantFactory(name="A"), TenantFactory(name="B")
    JiraSiteFactory(tenant=a, legacy=True)
    LegacyCredentialFactory(tenant=a)
    LegacyCredentialFactory(tenant=b, customer_app=True)
    result = report()
    rows = [(r["tenant"], r["kind"], r["count"]) for r in result.legacy_secrets]
    assert rows == [("A", "api_token", 2), ("B", "customer_app", 1)]
    assert result.line("legacy_secrets").ok is False
    assert len([d for d in result.violations if d.line == "legacy_secrets"]) == 3


def test_a_legacy_call_after_the_cutoff_is_a_violation_named_by_tenant_and_site():
    site = JiraSiteFactory(legacy=True, tenant=TenantFactory(name="Late"))
    host = "late-site.atlassian.net"
    hostless = JiraSiteFactory(url=f"https://{host}", tenant=site.tenant)
    record_calls(
        CUTOFF - timedelta(days=20),
        site=site.cloud_id,
        kind="legacy_api_token",
        pool="api-token:x",
        requests=5,
    )
    record_calls(
        CUTOFF + timedelta(days=3),
        site=site.cloud_id,
        kind="legacy_api_token",
        pool="api-token:x",
        family="myself",
        status="4xx",
        requests=2,
    )
    # A legacy client without a cloud id counts under the site's host.
    record_calls(CUTOFF + timedelta(days=4), site=host, kind="legacy_customer_app")
    result = report()
    line = result.line("legacy_calls_after_cutoff")
    assert (line.figure, line.ok) == (3, False)
    assert [(r["site"], r["endpoint_family"], r["requests"]) for r in line.rows] == [
        (site.url, "myself", 2),
        (hostless.url, "search/jql", 1),
    ]
    urls = {d.url for d in result.violations if d.line == "legacy_calls_after_cutoff"}
    assert urls == {
        f"/admin/tenants/jirasite/{site.pk}/change/",
        f"/admin/tenants/jirasite/{hostless.pk}/change/",
    }
    assert "credential_kind__in=legacy_api_token%2Clegacy_customer_app" in line.evidence_url


def test_the_decline_curve_counts_legacy_calls_per_week_before_the_cutoff():
    for weeks_before, requests in ((5, 40), (3, 12), (1, 2)):
        record_calls(
            CUTOFF - timedelta(weeks=weeks_before),
            site="c1",
            kind="legacy_api_token",
            pool="api-token:c1",
            requests=requests,
        )
    record_calls(CUTOFF - timedelta(weeks=1), site="c2", kind="legacy_customer_app", requests=1)
    record_calls(CUTOFF - timedelta(weeks=1), site="c3", kind="vendor_grant", requests=9)
    line = report().line("legacy_calls_before_cutoff")
    assert [r["requests"] for r in line.rows] == [40, 12, 3]
    assert [r["legacy_customer_app"] for r in line.rows] == [0, 0, 1]
    assert line.figure == 55 and line.ok is None


def test_since_narrows_the_ledger_window():
    record_calls(CUTOFF + timedelta(days=1), site="c1", kind="legacy_api_token")
    assert report().legacy_calls_after_cutoff_total == 1
    assert report(since=CUTOFF + timedelta(days=2)).legacy_calls_after_cutoff_total == 0


def test_sites_show_their_credential_and_those_on_none_need_attention():
    tenant = TenantFactory(name="Mixed")
    on_grant = grant_site(tenant, url="https://a.atlassian.net")
    on_token = JiraSiteFactory(tenant=tenant, legacy=True, url="https://b.atlassian.net")
    bare = JiraSiteFactory(tenant=tenant, url="https://c.atlassian.net")
    revoked = JiraSiteFactory(tenant=tenant, url="https://d.atlassian.net")
    grant = OAuthGrantFactory(needs_reauth=True)
    GrantSiteFactory(grant=grant, site=revoked, in_use=True)
    JiraSiteFactory(tenant=tenant, status="offboarded", url="https://gone.atlassian.net")
    result = report(now=CUTOFF - timedelta(days=1))
    assert {r["site"]: (r["credential"], r["needs_reauth"]) for r in result.sites} == {
        on_grant.url: ("vendor_grant", False),
        on_token.url: ("legacy_api_token", False),
        bare.url: ("none", True),
        revoked.url: ("none", True),
    }
    attention = {d.subject: d for d in result.deviations if d.line == "sites"}
    assert set(attention) == {on_token.url, bare.url, revoked.url}
    assert all(d.severity == ATTENTION for d in attention.values())
    assert attention[revoked.url].message.endswith("invalid_grant")
    assert attention[bare.url].url == f"/admin/tenants/jirasite/{bare.pk}/change/"
    assert result.ok  # attention only


def test_vendor_points_per_hour_are_shown_against_the_quota(settings):
    settings.ATLASSIAN_TIER1_POINTS_PER_HOUR = 100
    hour = datetime(2026, 3, 10, 9, tzinfo=UTC)
    record_calls(hour, site="c1", points=30, requests=2)
    record_calls(hour + timedelta(minutes=59), site="c2", points=50)
    record_calls(hour + timedelta(hours=1), site="c1", points=120)
    record_calls(hour, site="c1", kind="legacy_api_token", pool="api-token:c1", points=500)
    result = report()
    assert [(r["hour"], r["points"], r["percent"], r["over"]) for r in result.vendor_hours] == [
        (hour, 110, 110.0, True),
        (hour + timedelta(hours=1), 120, 120.0, True),
    ]
    over = [d for d in result.deviations if d.line == "vendor_quota"]
    assert len(over) == 2 and all(d.severity == ATTENTION for d in over)
    # Over quota needs attention; only the legacy call (after the cutoff) fails the report.
    assert {d.line for d in result.violations} == {"legacy_calls_after_cutoff"}


def test_a_customer_app_still_referenced_by_a_site_is_a_violation():
    credential = LegacyCredentialFactory(customer_app=True, client_id="cust-app-1")
    JiraSiteFactory(tenant=credential.tenant, legacy_credential=credential)
    unused = LegacyCredentialFactory(customer_app=True)
    result = report(now=CUTOFF - timedelta(days=1))
    line = result.line("customer_apps")
    assert (line.figure, line.ok) == (1, False)
    assert line.rows[0]["client_id"] == "cust-app-1"
    (deviation,) = [d for d in result.violations if d.line == "customer_apps"]
    assert deviation.url == f"/admin/tenants/legacycredential/{credential.pk}/change/"
    assert str(unused.pk) not in str(result.line("customer_apps").rows)


def test_the_report_as_json_data_carries_status_and_iso_dates():
    data = report().as_dict()
    assert data["ok"] is True
    assert data["cutoff"] == "2026-01-01T00:00:00+00:00"
    assert {line["key"]: line["status"] for line in data["lines"]}["customer_apps"] == "ok"


def test_since_accepts_a_date_or_a_date_time_and_refuses_anything_else():
    assert parse_since("2026-01-01") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_since("2026-01-01T10:00:00+02:00") == datetime(2026, 1, 1, 8, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a date"):
        parse_since("last tuesday")


def test_no_secret_reaches_the_report():
    credential = LegacyCredentialFactory(customer_app=True)
    JiraSiteFactory(tenant=credential.tenant, legacy_credential=credential)
    text = str(report().as_dict())
    assert credential.client_secret not in text
    assert credential.access_token not in text
    assert credential.refresh_token not in text
    assert VIOLATION in text
