"""Every changelist the admin benchmark times (tenants, sites, grants, migration cases, backup
jobs) reads its page through an index, unfiltered and under each of its list filters (issue 8:
"indexes on every filter").

A filter on a column of the listed table has an index in the page's order (the model's
``ordering`` plus Django's ``-pk`` tie-break), so a page is the first entries of that index and
nothing is sorted. A filter across a relation (the credential kind, the tenant's slug, the
"needs attention" filters) finds its own rows through an index of theirs. The plans are read
with sorting and sequential scans priced out of reach: a missing index shows as a Sort, a Seq
Scan, or another index in its place."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupJob, SiteProtection
from backups.services import schedule_create
from ops.dashboard import overdue_schedules
from tenants.models import LegacyCredential, Tenant
from tenants.selectors import legacy_sites_past_due
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    MigrationCaseFactory,
    OAuthGrantFactory,
    TenantFactory,
)

SLUG = "acme"
ORDER = {
    "tenant": '"tenants_tenant"."name" ASC, "tenants_tenant"."id" DESC',
    "jirasite": '"tenants_jirasite"."url" ASC, "tenants_jirasite"."id" DESC',
    # ``account_id`` is unique: the order is total without a tie-break.
    "oauthgrant": '"tenants_oauthgrant"."account_name" ASC, "tenants_oauthgrant"."account_id" ASC',
    "migrationcase": '"tenants_migrationcase"."due_at" ASC, "tenants_migrationcase"."id" ASC',
    "backupjob": '"backups_backupjob"."created_at" DESC, "backups_backupjob"."id" DESC',
}
TABLES = {
    "tenant": "tenants_tenant",
    "jirasite": "tenants_jirasite",
    "oauthgrant": "tenants_oauthgrant",
    "migrationcase": "tenants_migrationcase",
    "backupjob": "backups_backupjob",
}
CHANGELISTS = {
    "tenant": "admin:tenants_tenant_changelist",
    "jirasite": "admin:tenants_jirasite_changelist",
    "oauthgrant": "admin:tenants_oauthgrant_changelist",
    "migrationcase": "admin:tenants_migrationcase_changelist",
    "backupjob": "admin:backups_backupjob_changelist",
}


def the_tenant() -> QuerySet:
    return Tenant.objects.filter(slug=SLUG).order_by().values("pk")


@dataclass(frozen=True)
class Page:
    """A changelist page: ``in_order`` is the index it reads in the page's order (no sort);
    ``rows`` the filter's own rows and the index they are found through."""

    model: str
    query: str = ""
    in_order: str | None = None
    rows: tuple[Callable[[], QuerySet], str] | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.model}{self.query or ' (unfiltered)'}"


PAGES = [
    Page("tenant", in_order="tenant_name"),
    Page("tenant", "?status__exact=suspended", in_order="tenant_status_name"),
    Page("jirasite", in_order="jirasite_url"),
    Page("jirasite", "?status__exact=needs_reauth", in_order="jirasite_status_url"),
    Page(
        "jirasite",
        "?legacy_credential__kind__exact=customer_app",
        in_order="jirasite_url",
        rows=(lambda: LegacyCredential.objects.filter(kind="customer_app"), "legacycred_kind"),
    ),
    Page("jirasite", f"?tenant={SLUG}", rows=(the_tenant, "tenants_tenant_slug")),
    Page(
        "jirasite",
        "?ops=past_due",
        in_order="jirasite_url",
        # Past ``LEGACY_CUTOFF`` every site still on a legacy credential is past due.
        rows=(
            lambda: legacy_sites_past_due().order_by().values("pk"),
            "tenants_jirasite_legacy_credential_id",
        ),
    ),
    Page(
        "jirasite",
        "?ops=backup_overdue",
        in_order="jirasite_url",
        rows=(lambda: overdue_schedules().values("site_id"), "backupschedule_overdue"),
    ),
    Page(
        "jirasite",
        "?protection=failing",
        in_order="jirasite_url",
        rows=(
            lambda: SiteProtection.objects.filter(state="failing").values("site_id"),
            "siteprotection_state",
        ),
    ),
    Page("oauthgrant", in_order="oauthgrant_account"),
    Page("oauthgrant", "?status__exact=needs_reauth", in_order="oauthgrant_status_account"),
    Page("oauthgrant", f"?tenant={SLUG}", rows=(the_tenant, "tenants_tenant_slug")),
    Page("migrationcase", in_order="migrationcase_due"),
    Page("migrationcase", "?state__exact=failed", in_order="migrationcase_state_due"),
    Page("migrationcase", f"?tenant={SLUG}", rows=(the_tenant, "tenants_tenant_slug")),
    Page("backupjob", in_order="backupjob_created"),
    Page("backupjob", "?status__exact=failed", in_order="backupjob_status_created"),
    Page("backupjob", "?kind__exact=full", in_order="backupjob_kind_created"),
    Page("backupjob", f"?tenant={SLUG}", rows=(the_tenant, "tenants_tenant_slug")),
]


def page_query(client, page: Page) -> str:
    """The changelist's SELECT of the listed rows, in the page's order (limited to a page when
    there is more than one)."""
    table = TABLES[page.model]
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse(CHANGELISTS[page.model]) + page.query).status_code == 200
    (sql,) = [
        q["sql"]
        for q in ctx.captured_queries
        if re.match(rf'SELECT (DISTINCT )?"{table}"\."id", ', q["sql"]) and " ORDER BY " in q["sql"]
    ]
    return sql


def plan_without_sorting(sql: str, params=()) -> str:
    """The plan when sorting and full scans cost the planner dearly: with an index in the
    page's order it reads that index; without one it still has to sort."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def reads(plan: str, index: str) -> bool:
    return (
        re.search(rf"(Index Scan|Index Only Scan|Bitmap Index Scan) (using|on) {index}", plan)
        is not None
    )


@pytest.fixture
def console_rows():
    """A few rows of each listed model, with every filter's value present."""
    tenant = TenantFactory(slug=SLUG)
    TenantFactory(suspended=True)
    grant_site = GrantSiteFactory(in_use=True, site__tenant=tenant)
    OAuthGrantFactory(needs_reauth=True)
    JiraSiteFactory(tenant=tenant, needs_reauth=True)
    case = MigrationCaseFactory(site__tenant=tenant, due_at=timezone.now())
    MigrationCaseFactory(failed=True)
    for site in (grant_site.site, case.site):
        schedule_create(site=site, acting_user=None, interval_hours=24)
        for kind, status in (("full", "succeeded"), ("incremental", "failed")):
            BackupJob.objects.create(site=site, kind=kind, status=status)


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_each_changelist_page_is_read_through_an_index(
    on_postgres, superuser_client, console_rows, page
):
    sql = page_query(superuser_client, page)

    assert f"ORDER BY {ORDER[page.model]}" in sql, sql
    plan = plan_without_sorting(sql)
    assert "Seq Scan" not in plan, plan
    if page.in_order:
        assert reads(plan, page.in_order), plan
        assert "Sort" not in plan, plan
    if page.rows:
        rows, index = page.rows
        own = plan_without_sorting(*rows().query.sql_with_params())
        assert reads(own, index), own
        assert "Seq Scan" not in own, own
