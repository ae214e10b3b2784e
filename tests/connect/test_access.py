"""jira_client_for_site: the one place a site's credential becomes an Atlassian client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from atlassian.exceptions import LegacyAccessRefused
from tenants.access import SiteUnavailable, jira_client_for_site
from tenants.models import OAuthGrant
from tenants.tokens import SiteNeedsReauthorization
from tests.connect.conftest import connected_grant, token_requests
from tests.factories import JiraSiteFactory, LegacyCredentialFactory

pytestmark = pytest.mark.django_db


def test_a_grant_site_gets_a_bearer_client_that_refreshes_the_token_on_demand(portal_sandbox):
    grant, (site,) = connected_grant(portal_sandbox)  # access token already expired

    with jira_client_for_site(site) as client:
        assert client.has_permission("ADMINISTER") is True
        assert client.server_info()

    assert len(token_requests(portal_sandbox)) == 1  # refreshed once, then reused
    assert portal_sandbox.requests_where(credential="bearer", site=site.cloud_id)
    assert not portal_sandbox.requests_where(credential="basic")
    grant.refresh_from_db()
    assert grant.access_token_expires_at > timezone.now() + timedelta(minutes=30)


def legacy_site(sandbox, *, api_token=None):
    remote = sandbox.site("acme")
    credential = LegacyCredentialFactory(
        email=sandbox.admin.email,
        api_token=api_token or sandbox.demo_api_token,
        site_url=f"{sandbox.url}/site/acme",
    )
    return JiraSiteFactory(
        tenant=credential.tenant,
        cloud_id=remote.cloud_id,
        url=f"{sandbox.url}/site/acme",
        legacy_credential=credential,
    )


def test_a_legacy_site_gets_a_basic_auth_client_before_the_cutoff(portal_sandbox, settings):
    settings.LEGACY_CUTOFF = timezone.now() + timedelta(days=1)
    site = legacy_site(portal_sandbox)

    with jira_client_for_site(site) as client:
        assert client.myself()["emailAddress"] == portal_sandbox.admin.email

    assert portal_sandbox.requests_where(credential="basic", status=200)


def test_a_legacy_site_is_refused_after_the_cutoff_before_anything_is_sent(
    portal_sandbox, settings
):
    settings.LEGACY_CUTOFF = timezone.now() - timedelta(seconds=1)
    site = legacy_site(portal_sandbox)

    with jira_client_for_site(site) as client, pytest.raises(LegacyAccessRefused):
        client.myself()

    assert portal_sandbox.requests_where(credential="basic") == []


def test_a_site_without_credential_raises_a_clear_domain_error(portal_sandbox):
    site = JiraSiteFactory()

    with pytest.raises(SiteNeedsReauthorization, match="no credential"):
        jira_client_for_site(site)


def test_a_site_that_needs_reauth_raises_with_its_reason(portal_sandbox):
    grant, (site,) = connected_grant(portal_sandbox)
    OAuthGrant.objects.filter(pk=grant.pk).update(
        status="needs_reauth", status_reason="Atlassian refused the refresh token"
    )

    with pytest.raises(SiteNeedsReauthorization, match="refused the refresh token") as raised:
        jira_client_for_site(site)
    assert raised.value.site_id == site.pk


def test_a_site_using_the_customers_own_app_is_refused(portal_sandbox):
    credential = LegacyCredentialFactory(customer_app=True)
    site = JiraSiteFactory(tenant=credential.tenant, legacy_credential=credential)

    with pytest.raises(SiteNeedsReauthorization, match="own OAuth app"):
        jira_client_for_site(site)


def test_a_disconnected_site_gets_no_client(portal_sandbox):
    site = JiraSiteFactory(status="disconnected", status_reason="site deleted")

    with pytest.raises(SiteUnavailable, match="site deleted"):
        jira_client_for_site(site)


def test_a_401_from_a_revoked_grant_refreshes_once_then_needs_reauth(
    portal_sandbox, django_capture_on_commit_callbacks
):
    from django.core import mail

    from atlassian.exceptions import ApiUnauthorized
    from tests.factories import MembershipFactory

    grant, (site,) = connected_grant(portal_sandbox, expired=False)
    MembershipFactory(tenant=site.tenant, role="owner")
    client = jira_client_for_site(site)
    assert client.has_permission("ADMINISTER")
    portal_sandbox.revoke_grant(portal_sandbox.admin)  # the user removed the app

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(ApiUnauthorized):
            client.server_info()
        with pytest.raises(SiteNeedsReauthorization, match="invalid_grant"):
            client.token_provider.unauthorized()
    client.close()

    grant.refresh_from_db()
    site.refresh_from_db()
    assert grant.status == "needs_reauth" and site.status == "needs_reauth"
    assert len(token_requests(portal_sandbox)) == 1
    assert len(mail.outbox) == 1


def test_a_401_after_a_rotation_by_another_worker_just_uses_the_new_token(portal_sandbox):
    from tenants.tokens import refresh_grant

    grant, (site,) = connected_grant(portal_sandbox, expired=False)
    client = jira_client_for_site(site)
    assert client.has_permission("ADMINISTER")
    stale = client.token_provider.last_token
    refresh_grant(grant.pk, force=True)  # another worker rotated meanwhile
    token_calls = len(token_requests(portal_sandbox))

    client.token_provider.unauthorized()  # as if the stale token had been refused

    assert client.token_provider.last_token != stale
    assert len(token_requests(portal_sandbox)) == token_calls  # no second refresh
    assert client.has_permission("ADMINISTER")
    client.close()
