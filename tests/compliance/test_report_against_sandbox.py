"""Acceptance: a migrated tenant and a legacy tenant back up before and after the cutoff
against the sandbox, and the report's figures equal the sandbox's own request log."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from atlassian.ledger import flush
from atlassian.ratelimit import hour_start
from backups.models import BackupJob
from ops.compliance import VIOLATION, build_compliance_report
from tenants.services.legacy import legacy_credential_purge
from tenants.services.sites import site_use_grant
from tests.backups.conftest import backup, connect_site
from tests.compliance.conftest import legacy_site
from tests.factories import GrantSiteFactory, OAuthGrantFactory, TenantFactory

pytestmark = pytest.mark.django_db


def sandbox_figures(records):
    """What the sandbox saw: requests per credential and bearer points per UTC hour."""
    per_credential = Counter(r.credential for r in records)
    token_calls = sum(1 for r in records if r.path == "/oauth/token")
    points = defaultdict(int)
    for r in records:
        if r.credential == "bearer" and r.points:
            points[hour_start(r.time)] += r.points
    return per_credential, token_calls, dict(points)


def test_the_report_matches_the_sandbox_log_before_and_after_the_cutoff(compliance_env):
    sandbox = compliance_env
    real_now = timezone.now()
    cutoff = hour_start(real_now) - timedelta(days=1)
    migrated = connect_site(sandbox, "acme", tenant=TenantFactory(name="Migrated acme"))
    legacy = legacy_site(sandbox, "globex")
    sandbox.request_log.clear()  # only what the portal itself sends from here on

    with override_settings(LEGACY_CUTOFF=cutoff):
        # Nine days before the cutoff (half past the hour: the phase stays in one hour).
        sandbox.clock.set(cutoff - timedelta(days=9) + timedelta(minutes=30))
        assert backup(migrated).status == BackupJob.Status.SUCCEEDED
        assert backup(legacy).status == BackupJob.Status.SUCCEEDED
        flush()
        before = list(sandbox.request_log)
        assert {r.credential for r in before} >= {"bearer", "basic"}

        # Before the cutoff a tenant still on its API token is not a violation.
        early = build_compliance_report(since=cutoff - timedelta(days=30), now=sandbox.clock.now())
        assert early.ok
        assert early.legacy_secrets_total == 1

        # Half an hour after the cutoff: the legacy site is refused before anything is sent.
        sandbox.clock.set(cutoff + timedelta(minutes=30))
        assert backup(migrated, kind=BackupJob.Kind.INCREMENTAL).status == "succeeded"
        refused = backup(legacy)
        assert refused.status != BackupJob.Status.SUCCEEDED
        flush()
        after = [r for r in sandbox.request_log if r.time >= cutoff.timestamp()]
        assert after and [r for r in after if r.credential == "basic"] == []

        report = build_compliance_report(since=cutoff - timedelta(days=30), now=real_now)

    records = list(sandbox.request_log)
    per_credential, token_calls, bearer_points = sandbox_figures(records)
    # Every call, per credential kind: the ledger and the sandbox agree.
    assert report.calls_per_kind.get("vendor_grant", 0) == per_credential["bearer"] + token_calls
    assert report.calls_per_kind.get("legacy_api_token", 0) == per_credential["basic"]
    # Legacy calls: all before the cutoff (one week on the curve), none after.
    assert report.legacy_calls_after_cutoff_total == 0
    assert report.line("legacy_calls_after_cutoff").ok is True
    assert report.line("legacy_calls_before_cutoff").figure == per_credential["basic"]
    assert [row["requests"] for row in report.line("legacy_calls_before_cutoff").rows] == [
        sum(1 for r in before if r.credential == "basic")
    ]
    # Vendor-app points per hour equal the sandbox's charges per hour.
    assert {row["hour"]: row["points"] for row in report.vendor_hours} == bearer_points
    assert len(bearer_points) == 2  # one hour before the cutoff, one after
    assert all(row["pool"] == "global" and row["quota"] == 65000 for row in report.vendor_hours)

    # After the cutoff the legacy tenant's stored token is a violation, listed with its link.
    assert not report.ok and report.exit_code == 1
    assert report.line("legacy_secrets").ok is False
    (violation,) = report.violations
    assert violation.severity == VIOLATION
    assert violation.tenant == "Legacy globex"
    assert violation.url == f"/admin/tenants/legacycredential/{legacy.legacy_credential_id}/change/"
    sites = {row["site"]: row["credential"] for row in report.sites}
    assert sites == {migrated.url: "vendor_grant", legacy.url: "legacy_api_token"}


def test_the_report_turns_green_once_the_legacy_tenant_has_migrated(compliance_env):
    sandbox = compliance_env
    cutoff = hour_start(timezone.now()) - timedelta(days=1)
    legacy = legacy_site(sandbox, "globex")
    credential = legacy.legacy_credential

    with override_settings(LEGACY_CUTOFF=cutoff):
        with pytest.raises(CommandError) as failed:
            call_command("compliance_report", "--format", "json", stdout=StringIO())
        assert failed.value.returncode == 1

        tokens = sandbox.connect(sites=[sandbox.site("globex")])
        grant = OAuthGrantFactory(
            access_token=tokens.access_token, refresh_token=tokens.refresh_token
        )
        GrantSiteFactory(grant=grant, site=legacy)
        sandbox.request_log.clear()  # the consent above was the browser's, not the portal's
        site_use_grant(site=legacy, grant=grant, acting_user=None)
        credential.refresh_from_db()
        legacy_credential_purge(credential=credential, acting_user=None, reason="migrated")
        sandbox.clock.set(cutoff + timedelta(hours=2, minutes=30))
        assert backup(legacy).status == BackupJob.Status.SUCCEEDED
        flush()

        report = build_compliance_report(since=cutoff - timedelta(days=1))
        call_command("compliance_report", stdout=StringIO())  # exit status 0

    assert report.ok, [d.message for d in report.violations]
    assert report.legacy_secrets_total == 0
    assert [row["credential"] for row in report.sites] == ["vendor_grant"]
    assert report.calls_per_kind == {
        "vendor_grant": len(sandbox.requests_where(credential="bearer"))
        + len(sandbox.requests_where(path="/oauth/token"))
    }
