from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from tenants import selectors
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    MigrationCaseFactory,
    OAuthGrantFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_a_user_sees_only_their_tenants(tenant, owner, outsider):
    assert list(selectors.tenants_for_user(user=owner)) == [tenant]
    assert tenant not in selectors.tenants_for_user(user=outsider)
    assert not selectors.tenants_for_user(user=AnonymousUser()).exists()


def test_owners_and_admins_manage_viewers_and_outsiders_do_not(tenant, owner, teammate, outsider):
    assert selectors.user_can_manage_tenant(user=owner, tenant=tenant)
    assert not selectors.user_can_manage_tenant(user=teammate, tenant=tenant)
    assert selectors.user_can_view_tenant(user=teammate, tenant=tenant)
    assert not selectors.user_can_manage_tenant(user=outsider, tenant=tenant)
    assert not selectors.user_can_view_tenant(user=outsider, tenant=tenant)
    assert not selectors.user_can_manage_tenant(user=AnonymousUser(), tenant=tenant)
    owner.is_active = False
    assert not selectors.user_can_manage_tenant(user=owner, tenant=tenant)
    assert selectors.user_can_manage_tenant(user=UserFactory(superuser=True), tenant=tenant)


def test_sites_for_tenant_never_returns_another_tenants_site(tenant):
    mine = JiraSiteFactory(tenant=tenant)
    theirs = JiraSiteFactory()
    assert list(selectors.sites_for_tenant(tenant=tenant)) == [mine]
    assert selectors.site_for_tenant(tenant=tenant, site_id=theirs.pk) is None


def test_grant_for_site_prefers_the_grant_in_use_and_skips_inactive_ones(tenant):
    in_use = GrantSiteFactory(site__tenant=tenant, in_use=True)
    GrantSiteFactory(site=in_use.site)
    assert selectors.grant_for_site(site=in_use.site) == in_use.grant
    broken = GrantSiteFactory(site__tenant=tenant, grant__needs_reauth=True)
    assert selectors.grant_for_site(site=broken.site) is None
    assert selectors.grant_for_site(site=JiraSiteFactory()) is None


def test_grants_needing_refresh_are_the_active_ones_expiring_soon():
    soon = OAuthGrantFactory(access_token_expires_at=timezone.now() + timedelta(minutes=2))
    OAuthGrantFactory()
    OAuthGrantFactory(needs_reauth=True, access_token_expires_at=timezone.now())
    before = timezone.now() + timedelta(minutes=5)
    assert list(selectors.grants_needing_refresh(before=before)) == [soon]


def test_legacy_sites_past_due_follow_the_case_due_date_and_the_cutoff(settings, tenant):
    now = timezone.now()
    settings.LEGACY_CUTOFF = now + timedelta(days=60)
    late = MigrationCaseFactory(site__tenant=tenant, due_at=now - timedelta(days=1))
    MigrationCaseFactory(site__tenant=tenant, due_at=now + timedelta(days=1))
    MigrationCaseFactory(site__tenant=tenant, due_at=now - timedelta(days=1), exempt=True)
    assert list(selectors.legacy_sites_past_due(now=now)) == [late.site]

    after_cutoff = now + timedelta(days=61)
    assert selectors.legacy_sites_past_due(now=after_cutoff).count() == 2
