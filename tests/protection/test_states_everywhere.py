"""One site in every protection state, and every place that counts sites by state agrees: the
staff dashboard, the sites' protection filter, the tenant page, the customer's Protection page
and ``protection_report``."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupJob, BackupSchedule, SiteProtection, Snapshot
from backups.protection.policy import protection_apply
from backups.protection.state import STATES
from tenants.models import JiraSite
from tests.conftest import mfa_client
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    LegacyCredentialFactory,
    OAuthGrantFactory,
    UserFactory,
)
from tests.protection.conftest import client_of, sweep

pytestmark = pytest.mark.django_db

EXPECTED = {
    "protected": 2,
    "overdue": 1,
    "failing": 1,
    "paused": 3,
    "unprotected": 2,
    "disconnected": 1,
}


def _snapshot(site, *, hours_ago: float) -> Snapshot:
    done = timezone.now() - timedelta(hours=hours_ago)
    job = BackupJob.objects.create(
        site=site, kind="full", status="succeeded", finished_at=done, started_at=done
    )
    return Snapshot.objects.create(
        site=site,
        job=job,
        kind="full",
        format_version=2,
        manifest_path="-",
        manifest_sha256="0" * 64,
        started_at=done - timedelta(minutes=5),
        completed_at=done,
        bytes_total=1000,
    )


def _grant_site(tenant, name: str, **extra) -> JiraSite:
    site = JiraSiteFactory(tenant=tenant, name=name, url=f"https://{name}.atlassian.net", **extra)
    GrantSiteFactory(grant=OAuthGrantFactory(), site=site, in_use=True)
    return site


def build_every_state(tenant) -> dict[str, list[JiraSite]]:
    now = timezone.now()
    sites = {
        "protected": _grant_site(tenant, "fine"),
        "fresh": _grant_site(tenant, "fresh"),  # just connected: protected until its window
        "overdue": _grant_site(tenant, "late"),
        "failing": _grant_site(tenant, "broken"),
        "reauth": _grant_site(tenant, "revoked"),
        "permission": _grant_site(tenant, "forbidden"),
        "legacy": JiraSiteFactory(
            tenant=tenant,
            name="old",
            url="https://old.atlassian.net",
            legacy_credential=LegacyCredentialFactory(tenant=tenant),
        ),
        "no_schedule": _grant_site(tenant, "bare"),
        "disabled": _grant_site(tenant, "off"),
        "disconnected": _grant_site(tenant, "gone"),
    }
    protection_apply(
        site_ids=[s.pk for k, s in sites.items() if k != "no_schedule"], reason="connected"
    )
    _snapshot(sites["protected"], hours_ago=2)
    _snapshot(sites["overdue"], hours_ago=24 * 5)
    _snapshot(sites["failing"], hours_ago=30)
    BackupJob.objects.create(
        site=sites["failing"], status="failed", finished_at=now, status_reason="internal error: x"
    )
    JiraSite.objects.filter(pk=sites["reauth"].pk).update(
        status="needs_reauth", status_reason="invalid_grant: authorize again"
    )
    BackupJob.objects.create(
        site=sites["permission"],
        status="failed",
        finished_at=now,
        status_reason="permission missing: 403 on /rest/api/3/project/search",
    )
    JiraSite.objects.filter(pk=sites["legacy"].pk).update(
        status="needs_reauth", status_reason="re-authorization required: legacy cutoff passed"
    )
    BackupSchedule.objects.filter(site=sites["disabled"]).update(enabled=False)
    JiraSite.objects.filter(pk=sites["disconnected"].pk).update(
        status="disconnected", status_reason="site deleted"
    )
    from backups.services import schedule_estimates_refresh

    schedule_estimates_refresh()
    return sites


def test_every_place_reports_the_same_numbers_for_a_site_in_every_state(customer, settings):
    settings.OPS_DASHBOARD_CACHE_SECONDS = 0
    sites = build_every_state(customer.tenant)
    # Another tenant's offboarded site is counted nowhere.
    JiraSiteFactory(status="offboarded")

    sweep()

    stored = {
        s.site_id: (s.state, s.detail) for s in SiteProtection.objects.exclude(state="retired")
    }
    assert stored[sites["fresh"].pk] == ("protected", "")
    assert stored[sites["overdue"].pk] == ("overdue", "")
    assert stored[sites["reauth"].pk] == ("paused", "reauth")
    assert stored[sites["permission"].pk] == ("paused", "permission")
    assert stored[sites["legacy"].pk] == ("paused", "legacy_cutoff")
    assert stored[sites["no_schedule"].pk] == ("unprotected", "no_schedule")
    assert stored[sites["disabled"].pk] == ("unprotected", "disabled")

    # The staff dashboard.
    staff = mfa_client(UserFactory(is_staff=True, is_superuser=True))
    dashboard = staff.get(reverse("admin:ops_operations_changelist"))
    figures = {f.url.split("protection=")[1]: f for f in dashboard.context["protection"]["states"]}
    assert {state: f.count for state, f in figures.items()} == EXPECTED
    # The sites' protection filter: each figure's link lists exactly the sites it counts.
    for state, figure in figures.items():
        listed = staff.get(figure.url).context["cl"]
        assert listed.result_count == EXPECTED[state], state
        assert {s.protection.state for s in listed.result_list} <= {state}
    # The tenant page.
    page = staff.get(reverse("admin:tenants_tenant_change", args=[customer.tenant.pk]))
    summary = ", ".join(f"{n} {s}" for s, n in EXPECTED.items())
    assert summary in page.content.decode()
    # The customer's Protection page.
    mine = client_of(customer.viewer).get(f"/t/{customer.tenant.slug}/protection/")
    assert mine.status_code == 200
    assert {code: n for _label, n, code in mine.context["counts"]} == EXPECTED
    assert sorted(line["row"].state for line in mine.context["lines"]) == sorted(
        s for s, n in EXPECTED.items() for _ in range(n)
    )
    # protection_report.
    out = StringIO()
    call_command("protection_report", "--format", "json", stdout=out, stderr=StringIO())
    rows = json.loads(out.getvalue())
    assert {s: sum(1 for r in rows if r["state"] == s) for s in STATES} == EXPECTED
    # A site without a schedule counts as unprotected on the dashboard (it used to count nowhere).
    assert figures["unprotected"].count == 2


def test_the_tally_moves_with_every_change_in_the_same_transaction(customer):
    from backups.protection.state import protection_counts, tally_recount
    from tenants.services.sites import site_set_status

    sites = build_every_state(customer.tenant)
    sweep()
    before = protection_counts()

    # A service changes a site: the receiver moves its state and the tally at once.
    site_set_status(
        site=sites["protected"], status="disconnected", reason="site deleted", acting_user=None
    )

    after = protection_counts()
    assert after["protected"] == before["protected"] - 1
    assert after["disconnected"] == before["disconnected"] + 1
    assert tally_recount() == after  # a fresh count agrees: no drift
