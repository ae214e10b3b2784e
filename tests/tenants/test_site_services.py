import pytest
from django.db import IntegrityError, transaction

from tenants import services
from tenants.exceptions import DomainError, SiteAlreadyExists, SiteOwnedByAnotherTenant
from tenants.models import JiraSite, LegacyCredential
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    LegacyCredentialFactory,
    MigrationCaseFactory,
    OAuthGrantFactory,
    TenantFactory,
)

pytestmark = pytest.mark.django_db

CLOUD_ID = "a436116f-02ce-4520-8fbb-7301462a1674"


def test_a_cloud_id_cannot_belong_to_two_tenants_in_the_database(tenant):
    JiraSiteFactory(tenant=tenant, cloud_id=CLOUD_ID)
    with pytest.raises(IntegrityError), transaction.atomic():
        JiraSite.objects.create(tenant=TenantFactory(), cloud_id=CLOUD_ID, url="https://x.net")


def test_it_refuses_a_cloud_id_owned_by_another_tenant(tenant, owner):
    JiraSiteFactory(cloud_id=CLOUD_ID)  # another tenant's
    with pytest.raises(SiteOwnedByAnotherTenant, match="another customer"):
        services.site_create(
            tenant=tenant, cloud_id=CLOUD_ID, url="https://acme.atlassian.net", acting_user=owner
        )
    with pytest.raises(SiteOwnedByAnotherTenant):
        services.site_link_to_tenant(
            tenant=tenant, cloud_id=CLOUD_ID, url="https://acme.atlassian.net", acting_user=owner
        )
    assert not JiraSite.objects.filter(tenant=tenant).exists()


def test_it_creates_a_site_and_audits_it(tenant, owner, audited):
    site = services.site_create(
        tenant=tenant,
        cloud_id=CLOUD_ID,
        url="https://acme.atlassian.net/",
        name="acme",
        acting_user=owner,
    )
    assert site.url == "https://acme.atlassian.net"
    event = audited("site.created", actor=owner, tenant=tenant)
    assert event.summary["cloud_id"] == CLOUD_ID
    with pytest.raises(SiteAlreadyExists):
        services.site_create(tenant=tenant, cloud_id=CLOUD_ID, url=site.url, acting_user=owner)


def test_linking_is_idempotent_and_follows_a_renamed_site(tenant, owner, audited):
    first = services.site_link_to_tenant(
        tenant=tenant, cloud_id=CLOUD_ID, url="https://acme.atlassian.net", acting_user=owner
    )
    again = services.site_link_to_tenant(
        tenant=tenant, cloud_id=CLOUD_ID, url="https://acme.atlassian.net", acting_user=owner
    )
    renamed = services.site_link_to_tenant(
        tenant=tenant, cloud_id=CLOUD_ID, url="https://acme-eu.atlassian.net", acting_user=owner
    )
    assert first.pk == again.pk == renamed.pk
    assert renamed.url == "https://acme-eu.atlassian.net"
    assert tenant.audit_events.filter(action="site.created").count() == 1
    audited("site.updated", actor=owner, tenant=tenant)


def test_it_sets_a_site_status_with_a_reason_and_audits_it_once(tenant, audited):
    site = JiraSiteFactory(tenant=tenant)
    assert services.site_set_status(
        site=site, status="disconnected", reason="site deleted at Atlassian", acting_user=None
    )
    assert not services.site_set_status(
        site=site, status="disconnected", reason="site deleted at Atlassian", acting_user=None
    )
    event = audited("site.status_changed", actor=None, tenant=tenant)
    assert event.summary["reason"] == "site deleted at Atlassian"
    with pytest.raises(DomainError, match="needs a reason"):
        services.site_set_status(site=site, status="needs_reauth", acting_user=None)


def test_it_cuts_a_legacy_site_over_to_a_grant_in_one_step(tenant, owner, audited):
    case = MigrationCaseFactory(site__tenant=tenant, state="verified")
    site = case.site
    link = GrantSiteFactory(site=site)

    services.site_use_grant(site=site, grant=link.grant, acting_user=owner)

    site.refresh_from_db()
    case.refresh_from_db()
    assert site.grant == link.grant and site.legacy_credential is None
    assert case.state == "cut_over" and case.cut_over_at is not None
    credential = LegacyCredential.objects.get(pk=case.legacy_credential_id)
    assert credential.status == "migrated"
    assert credential.has_secret  # kept until the case completes, for a rollback
    event = audited("site.cut_over_to_grant", actor=owner, tenant=tenant)
    assert event.summary["previous"]["legacy_credential"] == str(credential.pk)


def test_it_refuses_a_grant_that_does_not_reach_the_site(tenant, owner):
    site = JiraSiteFactory(tenant=tenant)
    with pytest.raises(DomainError, match="does not reach"):
        services.site_use_grant(site=site, grant=OAuthGrantFactory(), acting_user=owner)


def test_it_refuses_a_grant_that_needs_reauth(tenant, owner):
    link = GrantSiteFactory(site__tenant=tenant, grant__needs_reauth=True)
    with pytest.raises(DomainError, match="needs_reauth"):
        services.site_use_grant(site=link.site, grant=link.grant, acting_user=owner)


def test_it_links_a_legacy_credential_and_audits_it(tenant, audited):
    site = JiraSiteFactory(tenant=tenant)
    credential = LegacyCredentialFactory(tenant=tenant)
    services.site_use_legacy_credential(site=site, credential=credential, acting_user=None)
    site.refresh_from_db()
    assert site.legacy_credential == credential
    audited(
        "site.legacy_credential_linked", actor=None, tenant=tenant, secrets=[credential.api_token]
    )


def test_it_never_moves_a_site_off_the_vendor_grant_back_to_legacy(tenant):
    link = GrantSiteFactory(site__tenant=tenant, in_use=True)
    with pytest.raises(DomainError, match="already uses the vendor grant"):
        services.site_use_legacy_credential(
            site=link.site, credential=LegacyCredentialFactory(tenant=tenant), acting_user=None
        )
