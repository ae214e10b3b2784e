"""The tenant page: its sites, grants, legacy credentials (never their secrets), cases, recent
jobs and snapshots, each capped, each linking to the full filtered list."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from backups.models import BackupJob
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    LegacyCredentialFactory,
    MigrationCaseFactory,
    TenantFactory,
)


@pytest.mark.django_db
def test_the_tenant_page_shows_every_section_and_never_a_secret(superuser_client):
    tenant = TenantFactory(slug="acme")
    credential = LegacyCredentialFactory(tenant=tenant)
    case = MigrationCaseFactory(site__tenant=tenant)
    grant_site = GrantSiteFactory(site__tenant=tenant, in_use=True)
    BackupJob.objects.create(site=grant_site.site, status="failed", status_reason="boom-reason")
    page = superuser_client.get(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
    html = page.content.decode()
    for text in (case.site.url, grant_site.site.url, "boom-reason", credential.site_url):
        assert text in html
    assert grant_site.grant.account_email in html
    secrets = [credential.api_token, grant_site.grant.access_token, grant_site.grant.refresh_token]
    for secret in secrets:
        assert secret not in html
    assert credential.api_token_ciphertext not in html


@pytest.mark.django_db
def test_inline_rows_are_capped(superuser_client):
    from ops.tenant_page import ROWS

    tenant = TenantFactory()
    JiraSiteFactory.create_batch(ROWS + 5, tenant=tenant)
    page = superuser_client.get(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
    shown = re.findall(r'id="sites-\d+"', page.content.decode())
    assert len(shown) == ROWS


@pytest.mark.django_db
def test_the_all_links_list_exactly_the_tenants_rows(superuser_client):
    tenant, other = TenantFactory(slug="mine"), TenantFactory(slug="theirs")
    for owner in (tenant, other):
        site = JiraSiteFactory(tenant=owner)
        BackupJob.objects.create(site=site, status="failed")
        MigrationCaseFactory(site__tenant=owner)
    for name in ("backups_backupjob", "tenants_migrationcase", "tenants_jirasite"):
        listed = superuser_client.get(reverse(f"admin:{name}_changelist"), {"tenant": "mine"})
        assert listed.status_code == 200, name
        rows = listed.context["cl"].result_list
        assert rows and all(
            getattr(r, "tenant", None) == tenant or r.site.tenant == tenant for r in rows
        ), name


@pytest.mark.django_db
def test_the_tenant_filter_is_a_box_not_a_link_per_tenant(superuser_client):
    TenantFactory.create_batch(30)
    page = superuser_client.get(reverse("admin:tenants_jirasite_changelist"))
    assert page.content.decode().count("?tenant__id__exact=") == 0
    assert b'name="tenant"' in page.content
