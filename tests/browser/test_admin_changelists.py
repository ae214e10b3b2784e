"""Acceptance: every staff list of the console shows its key columns inside a 1366x768 window
(the laptop support agents use), in Chromium, with realistic data; a tenant's name stays on one
line. A screenshot of each list is kept in var/test-artifacts/admin-changelists/ (the path is
printed)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupJob, BackupSchedule, Snapshot
from backups.restore.models import RestoreJob
from tenants.models import JiraSite, MigrationCase
from tests.browser.conftest import ARTIFACTS as ARTIFACTS_ROOT
from tests.conftest import mfa_client
from tests.factories import (
    AuditEventFactory,
    GrantSiteFactory,
    JiraSiteFactory,
    LegacyCredentialFactory,
    MigrationCaseFactory,
    OAuthGrantFactory,
    TenantFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = ARTIFACTS_ROOT / "admin-changelists"
VIEWPORT = {"width": 1366, "height": 768}

# list -> the columns (Django's th.column-<name>) that must be in view without scrolling.
KEY_COLUMNS = {
    "tenants_tenant": ["name", "status_word", "site_count"],
    "tenants_jirasite": ["site", "tenant_name", "status_word", "credential", "last_backup"],
    "tenants_oauthgrant": ["account", "status_word", "refresh_token_state", "last_used_at"],
    "tenants_migrationcase": ["site_host", "tenant", "state_word", "due_at"],
    "tenants_legacycredential": ["credential", "tenant_name", "status_word", "secret"],
    "tenants_auditevent": ["created_at", "action", "tenant_name", "target", "who"],
    "backups_backupjob": ["id", "site_host", "status_word", "kind", "progress"],
    "backups_snapshot": ["completed_at", "site_host", "status_word", "issues"],
    "backups_restorejob": ["id", "status_word", "target", "what"],
    "backups_backupschedule": ["site_host", "enabled", "interval_hours", "last_success_at"],
}
TENANT_CELLS = {
    "tenants_jirasite": "tenant_name",
    "tenants_migrationcase": "tenant",
    "tenants_legacycredential": "tenant_name",
    "tenants_auditevent": "tenant_name",
}
CUSTOMERS = [
    ("Umbrella Corporation Holdings (EMEA)", "umbrella-emea", "umbrella-emea-production"),
    ("Weyland-Yutani Logistics GmbH", "weyland-yutani", "weyland-yutani-logistics"),
    ("Cyberdyne Systems Research", "cyberdyne", "cyberdyne-research-and-development"),
    ("Soylent Green Foods International", "soylent", "soylent-foods-international"),
    ("Initech Payment Services", "initech", "initech-payments"),
]
LONG_REASON = (
    "Atlassian refused the refresh token (invalid_grant): the customer removed the app from "
    "their account settings; backups are paused until a site administrator authorizes again"
)


def realistic_world() -> None:
    """Every list with a page of rows that look like production's: long names and URLs,
    every status, long reasons."""
    now = timezone.now()
    for index, (name, slug, host) in enumerate(CUSTOMERS):
        tenant = TenantFactory(name=name, slug=slug)
        grant = OAuthGrantFactory(
            account_name=f"{name.split()[0]} Jira Administrator",
            account_email=f"jira-administrator@{slug}.example.com",
            **({"needs_reauth": True} if index % 2 else {}),
        )
        for n, suffix in enumerate(("", "-sandbox", "-archive")):
            site = GrantSiteFactory(
                grant=grant,
                in_use=True,
                site__tenant=tenant,
                site__name=f"{host}{suffix}",
                site__status=JiraSite.Status.NEEDS_REAUTH if index % 2 else "active",
            ).site
            BackupSchedule.objects.create(site=site, last_success_at=now - timedelta(hours=n))
            job = BackupJob.objects.create(
                site=site,
                kind="incremental" if n else "full",
                status=["succeeded", "failed", "paused_needs_reauth"][n],
                status_reason="" if n == 0 else LONG_REASON,
                objects_done=1200 * (n + 1),
                objects_total=1200 * (n + 1),
                points_spent=25_000,
            )
            snapshot = Snapshot.objects.create(
                site=site,
                job=job,
                kind=job.kind,
                format_version=1,
                manifest_path="m",
                manifest_sha256="0" * 64,
                started_at=now - timedelta(minutes=30),
                completed_at=now,
                counts={"issues": 12_000},
                bytes_total=7_400_000_000,
            )
            RestoreJob.objects.create(
                snapshot=snapshot,
                target_site=site,
                scope="issues",
                issue_keys=[f"{slug.upper()[:4]}-{1234 + n}"],
                dry_run=bool(n),
                status="partial" if n else "succeeded",
                status_reason=LONG_REASON,
            )
        legacy_site = JiraSiteFactory(
            tenant=tenant, name=f"{host}-legacy", legacy=True, legacy_credential__tenant=tenant
        )
        MigrationCaseFactory(
            site=legacy_site,
            legacy_credential=legacy_site.legacy_credential,
            state=MigrationCase.State.FAILED,
            failure_reason="the customer is not a site administrator of " + legacy_site.url,
            due_at=now + timedelta(days=19),
        )
        LegacyCredentialFactory(tenant=tenant, customer_app=True)
        for action in ("grant.needs_reauth", "migration_case.failed", "backup.job_enqueued"):
            AuditEventFactory(
                tenant=tenant,
                action=action,
                actor=UserFactory(username=f"support.agent.{slug}@jira-backup.example.com"),
                target_repr=f"migration of https://{host}.atlassian.net (failed)",
            )


@pytest.fixture
def staff_page(browser, live_server):
    realistic_world()
    client = mfa_client(UserFactory(username="console-admin", superuser=True))
    context = browser.new_context(viewport=VIEWPORT)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def visible_box(page, selector: str) -> dict | None:
    """Where the element is, and the part of the window a person sees it in: the window, cut
    by the list's own scroll box (the admin scrolls a wide table inside ``.results``)."""
    return page.evaluate(
        """(selector) => {
            const el = document.querySelector(selector);
            if (!el) return null;
            const r = el.getBoundingClientRect();
            const box = el.closest('.results') || document.documentElement;
            const c = box.getBoundingClientRect();
            return {left: r.left, right: r.right, top: r.top,
                    seen_left: Math.max(0, c.left), seen_right: Math.min(window.innerWidth, c.right),
                    seen_bottom: Math.min(window.innerHeight, c.bottom)};
        }""",
        selector,
    )


@pytest.mark.parametrize("changelist", sorted(KEY_COLUMNS))
def test_each_list_shows_its_key_columns_inside_a_1366x768_window(
    changelist, staff_page, live_server, capsys
):
    staff_page.goto(live_server.url + reverse(f"admin:{changelist}_changelist"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"{changelist}.png"
    staff_page.screenshot(path=str(shot))
    with capsys.disabled():
        print(f"\n  screenshot: {shot}")

    assert staff_page.locator("#result_list tbody tr").count() >= 5, "the list has its rows"
    for column in KEY_COLUMNS[changelist]:
        for selector in (f"#result_list th.column-{column}", f"#result_list tbody .field-{column}"):
            box = visible_box(staff_page, selector)
            assert box is not None, f"{changelist}: no {selector}"
            assert box["seen_left"] <= box["left"] and box["right"] <= box["seen_right"] + 0.5, (
                f"{changelist}: {column} is not all in view ({box}); see {shot}"
            )
            assert box["top"] < box["seen_bottom"], f"{changelist}: {column} is below the fold"
    tenant = TENANT_CELLS.get(changelist)
    if tenant:
        lines = staff_page.evaluate(
            """(selector) => [...document.querySelectorAll(selector)].map(
                   (el) => el.getClientRects().length)""",
            f"#result_list td.field-{tenant} span",
        )
        assert lines and set(lines) == {1}, f"{changelist}: a tenant's name wraps ({lines})"
