"""manage.py compliance_report: formats, and an exit status that can gate a deploy."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tests.compliance.ledger_rows import record_calls
from tests.factories import JiraSiteFactory, LegacyCredentialFactory, TenantFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("compliance_report", *args, stdout=out)
    return out.getvalue()


def run_failing(*args) -> tuple[str, CommandError]:
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("compliance_report", *args, stdout=out)
    return out.getvalue(), raised.value


@pytest.fixture
def cutoff_passed(settings):
    settings.LEGACY_CUTOFF = datetime(2026, 1, 1, tzinfo=UTC)
    settings.SITE_URL = "https://portal.example.com"


def test_a_compliant_portal_prints_every_line_and_exits_zero(cutoff_passed):
    JiraSiteFactory(url="https://quiet.atlassian.net")
    text = run()
    assert "[ok] Stored legacy secrets (per tenant and kind)" in text
    assert "[ok] Legacy-credential calls since the cutoff — goal: zero" in text
    assert "[ok] Per-customer 3LO apps still referenced — goal: zero" in text
    assert "[info] Vendor-app calls per hour against the points quota" in text
    assert "https://quiet.atlassian.net | needs_reauth" not in text
    assert "evidence: https://portal.example.com/admin/" in text
    assert text.rstrip().endswith("Result: compliant")


def test_a_violation_exits_one_and_names_the_tenant_with_a_link_to_act(cutoff_passed):
    credential = LegacyCredentialFactory(tenant=TenantFactory(name="Slowpoke"))
    text, error = run_failing()
    assert error.returncode == 1
    assert "legacy_secrets" in str(error)
    assert "[VIOLATED] Stored legacy secrets" in text
    assert "[violation] Slowpoke" in text
    assert (
        f"act: https://portal.example.com/admin/tenants/legacycredential/{credential.pk}/change/"
        in text
    )
    assert text.rstrip().endswith("Result: NOT compliant")


def test_json_holds_the_whole_report(cutoff_passed):
    site = JiraSiteFactory(legacy=True)
    record_calls(
        timezone.now() - timedelta(hours=2),
        site=site.cloud_id,
        kind="legacy_api_token",
        pool="api-token:x",
        requests=3,
    )
    text, error = run_failing("--format", "json")
    data = json.loads(text)
    assert error.returncode == 1 and data["ok"] is False
    lines = {line["key"]: line for line in data["lines"]}
    assert lines["legacy_calls_after_cutoff"]["figure"] == 3
    assert lines["legacy_calls_after_cutoff"]["status"] == "VIOLATED"
    assert data["calls_per_kind"] == {"legacy_api_token": 3}
    assert {d["line"] for d in data["deviations"]} >= {
        "legacy_secrets",
        "legacy_calls_after_cutoff",
    }


def test_csv_has_a_row_per_line_evidence_and_deviation(cutoff_passed):
    LegacyCredentialFactory(tenant=TenantFactory(name="Csv tenant"))
    text, _ = run_failing("--format", "csv")
    rows = list(csv.DictReader(StringIO(text)))
    assert {r["record"] for r in rows} == {"line", "evidence", "deviation"}
    assert len([r for r in rows if r["record"] == "line"]) == 8  # with data residency (issue 22)
    (deviation,) = [r for r in rows if r["record"] == "deviation"]
    assert deviation["tenant"] == "Csv tenant" and deviation["status"] == "violation"
    assert deviation["url"].startswith("https://portal.example.com/admin/tenants/")


def test_since_moves_the_window(cutoff_passed):
    record_calls(datetime(2026, 2, 1, tzinfo=UTC), site="c1", kind="legacy_api_token")
    run_failing("--since", "2026-01-15")
    text = run("--since", "2026-02-02")
    assert "Compliance report, 2026-02-02 00:00" in text


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01"])
def test_a_bad_since_is_refused_with_a_clear_message(since):
    with pytest.raises(CommandError, match="--since") as raised:
        call_command("compliance_report", "--since", since, stdout=StringIO())
    assert raised.value.returncode == 2


def test_a_since_in_the_future_is_refused():
    future = (timezone.now() + timedelta(days=2)).date().isoformat()
    with pytest.raises(CommandError, match="in the future") as raised:
        call_command("compliance_report", "--since", future, stdout=StringIO())
    assert raised.value.returncode == 2
