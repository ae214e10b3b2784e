"""The whole connect flow against the sandbox over HTTP: start, consent, callback, choice of
sites, verification and storage."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

from portal.models import OAuthState, PendingConnection
from tenants.models import AuditEvent, GrantSite, JiraSite, OAuthGrant
from tests.connect.conftest import TEST_REDIRECT_URI, follow_authorize, query_of, start_flow
from tests.factories import GrantSiteFactory, JiraSiteFactory, OAuthGrantFactory

pytestmark = pytest.mark.django_db

SCOPES = (
    "read:jira-work write:jira-work read:jira-user manage:jira-project "
    "manage:jira-configuration offline_access read:me"
)


def test_it_redirects_to_atlassian_with_everything_the_authorize_endpoint_needs(
    portal_sandbox, people, owner_client
):
    location = start_flow(owner_client, people.tenant.slug)

    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{portal_sandbox.url}/authorize"
    query = query_of(location)
    assert query["audience"] == "api.atlassian.com"
    assert query["client_id"] == portal_sandbox.client_id
    assert query["scope"].split() == settings.ATLASSIAN_SCOPES.split()
    assert set(SCOPES.split()) <= set(query["scope"].split())
    assert query["redirect_uri"] == TEST_REDIRECT_URI
    assert query["prompt"] == "consent"
    assert query["response_type"] == "code"
    assert len(query["state"]) >= 40
    state = OAuthState.objects.get()
    assert state.user == people.owner and state.tenant == people.tenant
    assert state.purpose == "connect" and state.consumed_at is None
    assert query["state"] not in state.token_hash  # only a hash is stored


def test_it_connects_the_one_site_the_grant_reaches(portal_sandbox, people, owner_client):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])

    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))
    response = owner_client.get(callback)

    assert response.status_code == 200, response.content
    assert b"Connected" in response.content
    acme = portal_sandbox.site("acme")
    site = JiraSite.objects.get(cloud_id=acme.cloud_id)
    assert site.tenant == people.tenant and site.status == "active"
    grant = OAuthGrant.objects.get()
    assert site.grant == grant
    assert grant.account_id == portal_sandbox.admin.account_id
    assert grant.status == "active" and grant.refresh_token and grant.access_token
    assert grant.family_started_at is not None
    assert GrantSite.objects.filter(grant=grant, site=site).exists()
    assert AuditEvent.objects.filter(action="grant.created", actor=people.owner).exists()
    assert AuditEvent.objects.filter(action="site.cut_over_to_grant").exists()
    # The token exchange was sent as JSON, once; the site's admin rights were checked.
    token_calls = portal_sandbox.requests_where(method="POST", path="/oauth/token")
    assert [r.status for r in token_calls] == [200]
    assert portal_sandbox.requests_where(
        path=f"/ex/jira/{acme.cloud_id}/rest/api/3/mypermissions", status=200
    )


def test_it_lets_the_user_choose_between_two_sites_and_connects_only_the_chosen_one(
    portal_sandbox, people, owner_client
):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme", "globex"])
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))

    response = owner_client.get(callback)

    assert response.status_code == 302
    choose_url = response["Location"]
    page = owner_client.get(choose_url)
    assert page.status_code == 200
    assert b"acme" in page.content and b"globex" in page.content
    assert not JiraSite.objects.exists() and not OAuthGrant.objects.exists()

    globex = portal_sandbox.site("globex")
    done = owner_client.post(choose_url, {"site": [globex.cloud_id]})

    assert done.status_code == 200, done.content
    assert list(JiraSite.objects.values_list("cloud_id", flat=True)) == [globex.cloud_id]
    assert JiraSite.objects.get().grant == OAuthGrant.objects.get()
    assert not PendingConnection.objects.exists()  # the pending tokens are gone


def test_it_can_connect_both_sites_at_once(portal_sandbox, people, owner_client):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme", "globex"])
    choose_url = owner_client.get(follow_authorize(start_flow(owner_client, people.tenant.slug)))[
        "Location"
    ]

    ids = [portal_sandbox.site("acme").cloud_id, portal_sandbox.site("globex").cloud_id]
    done = owner_client.post(choose_url, {"site": ids})

    assert done.status_code == 200
    assert set(JiraSite.objects.values_list("cloud_id", flat=True)) == set(ids)
    assert OAuthGrant.objects.get().grant_sites.count() == 2


def test_it_asks_again_when_no_site_is_chosen(portal_sandbox, people, owner_client):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme", "globex"])
    choose_url = owner_client.get(follow_authorize(start_flow(owner_client, people.tenant.slug)))[
        "Location"
    ]

    response = owner_client.post(choose_url, {})

    assert response.status_code == 400
    assert b"Choose at least one site" in response.content
    assert not JiraSite.objects.exists() and not OAuthGrant.objects.exists()


def test_the_choice_page_belongs_to_the_session_that_started_the_flow(
    portal_sandbox, people, owner_client
):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme", "globex"])
    choose_url = owner_client.get(follow_authorize(start_flow(owner_client, people.tenant.slug)))[
        "Location"
    ]
    intruder = Client()
    intruder.force_login(people.admin)

    response = intruder.post(choose_url, {"site": [portal_sandbox.site("acme").cloud_id]})

    assert response.status_code == 404
    assert not JiraSite.objects.exists() and not OAuthGrant.objects.exists()


def test_a_second_consent_merges_into_the_accounts_one_grant(portal_sandbox, people, owner_client):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    owner_client.get(follow_authorize(start_flow(owner_client, people.tenant.slug)))
    first_refresh = OAuthGrant.objects.get().refresh_token

    portal_sandbox.consent_as(portal_sandbox.admin, sites=["globex"])
    choose = owner_client.get(follow_authorize(start_flow(owner_client, people.tenant.slug)))
    globex = portal_sandbox.site("globex")
    if choose.status_code == 302:  # the grant now reaches both sites
        owner_client.post(choose["Location"], {"site": [globex.cloud_id]})

    grant = OAuthGrant.objects.get()
    assert grant.grant_sites.count() == 2
    assert grant.refresh_token != first_refresh  # a consent starts a new token family
    assert JiraSite.objects.get(cloud_id=globex.cloud_id).grant == grant


def test_a_reconsent_repairs_a_grant_that_needed_reauthorization(
    portal_sandbox, people, owner_client
):
    acme = portal_sandbox.site("acme")
    grant = OAuthGrantFactory(account_id=portal_sandbox.admin.account_id, needs_reauth=True)
    site = JiraSiteFactory(
        tenant=people.tenant, cloud_id=acme.cloud_id, url=acme.url, needs_reauth=True
    )
    GrantSiteFactory(grant=grant, site=site, in_use=True)
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])

    response = owner_client.get(follow_authorize(start_flow(owner_client, people.tenant.slug)))

    assert response.status_code == 200
    grant.refresh_from_db()
    site.refresh_from_db()
    assert grant.status == "active" and site.status == "active"


def test_the_home_page_lists_the_users_tenants_and_sites(portal_sandbox, people, owner_client):
    JiraSiteFactory(tenant=people.tenant, name="listed-site")

    page = owner_client.get("/")

    assert page.status_code == 200
    assert b"Acme Corp" in page.content and b"listed-site" in page.content
    assert f"/t/{people.tenant.slug}/connect/".encode() in page.content


@pytest.mark.parametrize("persona, status", [("admin", 302), ("viewer", 403), ("outsider", 404)])
def test_only_owners_and_admins_may_start_the_flow(portal_sandbox, people, persona, status):
    client = Client()
    client.force_login(getattr(people, persona))

    response = client.post(f"/t/{people.tenant.slug}/connect/")

    assert response.status_code == status
    assert OAuthState.objects.count() == (1 if status == 302 else 0)
    if status != 302:
        assert client.get(f"/t/{people.tenant.slug}/connect/").status_code == status


def test_the_start_page_mints_no_state_until_its_button_is_pressed(
    portal_sandbox, people, owner_client
):
    page = owner_client.get(f"/t/{people.tenant.slug}/connect/")

    assert page.status_code == 200
    assert b'<form method="post">' in page.content and b"Continue to Atlassian" in page.content
    assert not OAuthState.objects.exists()  # a link, a prefetch or a crawler starts nothing

    response = owner_client.post(f"/t/{people.tenant.slug}/connect/")

    assert response.status_code == 302
    assert response["Location"].startswith(f"{portal_sandbox.url}/authorize?")
    assert OAuthState.objects.count() == 1


def test_an_anonymous_visitor_is_sent_to_sign_in(portal_sandbox, people):
    response = Client().get(f"/t/{people.tenant.slug}/connect/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_connecting_a_site_known_through_a_legacy_token_cuts_it_over_to_the_grant(
    portal_sandbox, people, owner_client
):
    from tests.factories import LegacyCredentialFactory

    acme = portal_sandbox.site("acme")
    credential = LegacyCredentialFactory(tenant=people.tenant, site_url=acme.url)
    site = JiraSiteFactory(
        tenant=people.tenant, cloud_id=acme.cloud_id, url=acme.url, legacy_credential=credential
    )
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])

    response = owner_client.get(follow_authorize(start_flow(owner_client, people.tenant.slug)))

    assert response.status_code == 200
    site.refresh_from_db()
    credential.refresh_from_db()
    assert site.grant == OAuthGrant.objects.get() and site.legacy_credential is None
    assert credential.status == "migrated"


def test_an_offboarded_customer_cannot_connect_a_site(portal_sandbox, people, owner_client):
    people.tenant.status = "offboarded"
    people.tenant.save()

    for response in (
        owner_client.get(f"/t/{people.tenant.slug}/connect/"),
        owner_client.post(f"/t/{people.tenant.slug}/connect/"),
    ):
        assert response.status_code == 403
        assert b"was closed" in response.content
    assert not OAuthState.objects.exists()
