import pytest

from tests.factories import JiraSiteFactory, MembershipFactory, TenantFactory

pytestmark = pytest.mark.django_db


def test_it_points_an_admin_of_a_legacy_tenant_to_the_migration_wizard(client):
    legacy_tenant, modern_tenant = TenantFactory(), TenantFactory()
    JiraSiteFactory(tenant=legacy_tenant, legacy=True)
    JiraSiteFactory(tenant=modern_tenant)
    owner = MembershipFactory(tenant=legacy_tenant).user
    MembershipFactory(tenant=modern_tenant, user=owner)
    client.force_login(owner)

    page = client.get("/").content.decode()

    assert f"/t/{legacy_tenant.slug}/migrate/" in page
    assert f"/t/{modern_tenant.slug}/migrate/" not in page


def test_it_shows_a_viewer_no_migration_link(client):
    tenant = TenantFactory()
    JiraSiteFactory(tenant=tenant, legacy=True)
    viewer = MembershipFactory(tenant=tenant, viewer=True).user
    client.force_login(viewer)

    page = client.get("/").content.decode()

    assert "/migrate/" not in page
    assert tenant.name in page
