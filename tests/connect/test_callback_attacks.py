"""Every bad answer to the callback leaves nothing stored and shows a clear page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.models import OAuthState, PendingConnection, SecurityFlag
from tenants.models import AuditEvent, GrantSite, JiraSite, OAuthGrant
from tests.connect.conftest import follow_authorize, query_of, start_flow
from tests.factories import JiraSiteFactory, TenantFactory

pytestmark = pytest.mark.django_db


def assert_nothing_stored():
    assert not OAuthGrant.objects.exists()
    assert not JiraSite.objects.exists() or not JiraSite.objects.filter(grant__isnull=False)
    assert not GrantSite.objects.exists()
    assert not PendingConnection.objects.exists()


def error_code(response) -> str:
    marker = b'data-error-code="'
    start = response.content.index(marker) + len(marker)
    return response.content[start : response.content.index(b'"', start)].decode()


def test_a_callback_without_state_is_refused(portal_sandbox, people, owner_client):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))
    code = query_of(callback)["code"]

    response = owner_client.get("/connect/callback/", {"code": code})

    assert response.status_code == 400
    assert error_code(response) == "state_missing"
    assert_nothing_stored()
    assert not portal_sandbox.requests_where(path="/oauth/token")  # the code was never sent


def test_a_callback_with_a_state_we_never_issued_is_refused(portal_sandbox, people, owner_client):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))

    response = owner_client.get(
        "/connect/callback/", {"code": query_of(callback)["code"], "state": "forged-state"}
    )

    assert response.status_code == 400
    assert error_code(response) == "state_unknown"
    assert_nothing_stored()
    assert not portal_sandbox.requests_where(path="/oauth/token")


def test_an_expired_state_is_refused(portal_sandbox, people, owner_client):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))
    OAuthState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = owner_client.get(callback)

    assert response.status_code == 400
    assert error_code(response) == "state_expired"
    assert b"Try again" in response.content
    assert_nothing_stored()


def test_a_replayed_state_is_refused(portal_sandbox, people, owner_client):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))
    assert owner_client.get(callback).status_code == 200
    grants_before = list(OAuthGrant.objects.values_list("pk", "refresh_token_ciphertext"))
    portal_sandbox.state.request_log.clear()

    response = owner_client.get(callback)

    assert response.status_code == 400
    assert error_code(response) == "state_replayed"
    assert list(OAuthGrant.objects.values_list("pk", "refresh_token_ciphertext")) == grants_before
    assert not portal_sandbox.requests_where(path="/oauth/token")


def test_a_state_from_another_session_is_refused_even_for_the_same_user(
    portal_sandbox, people, owner_client
):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))
    other_session = Client()
    other_session.force_login(people.owner)

    response = other_session.get(callback)

    assert response.status_code == 400
    assert error_code(response) == "state_other_session"
    assert_nothing_stored()
    # The victim's own state is not burnt by the attempt: it still works in its session.
    assert owner_client.get(callback).status_code == 200


def test_a_state_from_another_user_is_refused(portal_sandbox, people, owner_client):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))
    attacker = Client()
    attacker.force_login(people.admin)

    response = attacker.get(callback)

    assert response.status_code == 400
    assert error_code(response) == "state_other_session"
    assert_nothing_stored()


def test_a_denied_consent_shows_a_friendly_page_with_a_retry_button(
    portal_sandbox, people, owner_client
):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"], decision="deny")
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))
    assert query_of(callback)["error"] == "access_denied"

    response = owner_client.get(callback)

    assert response.status_code == 200
    assert b"Connection cancelled" in response.content
    assert f'href="/t/{people.tenant.slug}/connect/"'.encode() in response.content
    assert_nothing_stored()
    assert OAuthState.objects.get().consumed_at is not None


def test_a_replayed_code_is_refused_by_atlassian_and_stores_nothing_more(
    portal_sandbox, people, owner_client
):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    first = follow_authorize(start_flow(owner_client, people.tenant.slug))
    assert owner_client.get(first).status_code == 200
    before = list(OAuthGrant.objects.values_list("pk", "refresh_token_ciphertext"))
    # A fresh, valid state in the same session, carrying the already-used code.
    fresh_state = query_of(start_flow(owner_client, people.tenant.slug))["state"]

    response = owner_client.get(
        "/connect/callback/", {"code": query_of(first)["code"], "state": fresh_state}
    )

    assert response.status_code == 400
    assert error_code(response) == "code_rejected"
    assert list(OAuthGrant.objects.values_list("pk", "refresh_token_ciphertext")) == before
    assert [r.status for r in portal_sandbox.requests_where(path="/oauth/token")] == [200, 403]


def test_a_failing_token_endpoint_shows_a_retry_page_and_stores_nothing(
    portal_sandbox, people, owner_client
):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))
    portal_sandbox.faults.fail_token_endpoint(1, status=503)

    response = owner_client.get(callback)

    assert response.status_code == 502
    assert error_code(response) == "atlassian_unavailable"
    assert b"Try again" in response.content
    assert_nothing_stored()


def test_a_site_owned_by_another_tenant_is_refused_audited_and_flagged_for_staff(
    portal_sandbox, people, owner_client
):
    acme = portal_sandbox.site("acme")
    other = TenantFactory(slug="someone-else")
    owned = JiraSiteFactory(tenant=other, cloud_id=acme.cloud_id, url=acme.url)
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])

    response = owner_client.get(follow_authorize(start_flow(owner_client, people.tenant.slug)))

    assert response.status_code == 409
    assert error_code(response) == "site_other_tenant"
    assert b"already connected to another customer" in response.content
    assert_nothing_stored()
    owned.refresh_from_db()
    assert owned.tenant == other and owned.grant is None
    event = AuditEvent.objects.get(action="connect.site_refused_other_tenant")
    assert event.tenant == people.tenant and event.actor == people.owner
    assert event.summary["cloud_id"] == acme.cloud_id
    flag = SecurityFlag.objects.get()
    assert flag.tenant == people.tenant and flag.other_tenant == other
    assert flag.cloud_id == acme.cloud_id


def test_a_user_who_does_not_administer_the_site_is_refused(portal_sandbox, people, owner_client):
    portal_sandbox.consent_as(portal_sandbox.member, sites=["acme"])

    response = owner_client.get(follow_authorize(start_flow(owner_client, people.tenant.slug)))

    assert response.status_code == 403
    assert error_code(response) == "not_site_admin"
    assert b"not an administrator" in response.content
    assert_nothing_stored()
    assert not JiraSite.objects.exists()


def test_a_chosen_site_the_user_does_not_administer_refuses_the_whole_choice(
    portal_sandbox, people, owner_client
):
    portal_sandbox.remove_admin(portal_sandbox.admin, "globex")
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme", "globex"])
    choose_url = owner_client.get(follow_authorize(start_flow(owner_client, people.tenant.slug)))[
        "Location"
    ]
    ids = [portal_sandbox.site("acme").cloud_id, portal_sandbox.site("globex").cloud_id]

    response = owner_client.post(choose_url, {"site": ids})

    assert response.status_code == 403
    assert_nothing_stored()
    assert not JiraSite.objects.exists()


def test_a_member_demoted_during_the_consent_cannot_finish(portal_sandbox, people):
    client = Client()
    client.force_login(people.admin)
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    callback = follow_authorize(start_flow(client, people.tenant.slug))
    people.admin.memberships.update(role="viewer")

    response = client.get(callback)

    assert response.status_code == 403
    assert_nothing_stored()
