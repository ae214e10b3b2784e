"""Reliability row 12, OAuth callback attacks: every bad answer to the callback (missing,
forged, replayed, expired state, a state from another session or user, a denied consent, a
replayed code, a site of another tenant, a user who does not administer the site, a consent
without the scopes we need) shows a clear page, stores nothing, and leaves an audit event where
it matters. The wizard's side of the same callback is in ``tests/wizard/test_wizard_attacks.py``.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.models import OAuthState, PendingConnection, SecurityFlag
from tenants.models import AuditEvent, GrantSite, JiraSite, OAuthGrant
from tests.connect.conftest import (
    READ_ONLY_SCOPES,
    follow_authorize,
    query_of,
    start_flow,
    with_scopes,
)
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


def refusals(action="connect.state_refused") -> list[tuple]:
    return list(AuditEvent.objects.filter(action=action).values_list("summary__reason", "tenant"))


def test_a_callback_without_state_is_refused(portal_sandbox, people, owner_client):
    """Reliability row 12: a missing state (each attack below is one more case of the row)."""
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))
    code = query_of(callback)["code"]

    response = owner_client.get("/connect/callback/", {"code": code})

    assert response.status_code == 400
    assert error_code(response) == "state_missing"
    assert_nothing_stored()
    assert not portal_sandbox.requests_where(path="/oauth/token")  # the code was never sent
    event = AuditEvent.objects.get(action="connect.state_refused")
    assert (event.summary["reason"], event.actor, event.tenant) == (
        "state_missing",
        people.owner,
        None,
    )


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
    assert refusals() == [("state_unknown", None)]


def test_an_expired_state_is_refused(portal_sandbox, people, owner_client):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))
    OAuthState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = owner_client.get(callback)

    assert response.status_code == 400
    assert error_code(response) == "state_expired"
    assert b"Try again" in response.content
    assert_nothing_stored()
    assert refusals() == [("state_expired", people.tenant.pk)]


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
    assert refusals() == [("state_replayed", people.tenant.pk)]


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
    assert refusals() == [("state_other_session", people.tenant.pk)]
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
    event = AuditEvent.objects.get(action="connect.state_refused")
    assert event.actor == people.admin and event.summary["started_by"] == people.owner.pk


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
    event = AuditEvent.objects.get(action="connect.consent_declined")
    assert (event.actor, event.tenant) == (people.owner, people.tenant)


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
    event = AuditEvent.objects.get(action="connect.callback_refused")
    assert event.summary["reason"] == "not_tenant_manager" and event.actor == people.admin


def test_a_read_only_consent_is_refused_with_a_page_naming_the_missing_scopes(
    portal_sandbox, people, owner_client
):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    location = with_scopes(start_flow(owner_client, people.tenant.slug), READ_ONLY_SCOPES)

    response = owner_client.get(follow_authorize(location))

    assert response.status_code == 403
    assert error_code(response) == "missing_scopes"
    for scope in ("write:jira-work", "read:jira-user", "manage:jira-project"):
        assert scope.encode() in response.content
    assert_nothing_stored()
    assert not JiraSite.objects.exists()
    event = AuditEvent.objects.get(action="connect.verification_refused")
    assert event.summary["problem"] == "missing_scopes" and event.tenant == people.tenant
    # Refused before any call to the site: the admin check never ran.
    acme = portal_sandbox.site("acme")
    assert not portal_sandbox.requests_where(path_prefix=f"/ex/jira/{acme.cloud_id}/")


def test_a_rate_limit_during_the_admin_check_is_shown_as_a_rate_limit(
    portal_sandbox, people, owner_client
):
    acme = portal_sandbox.site("acme")
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))
    portal_sandbox.faults.error_rate(
        1.0,
        statuses=(429,),
        path_prefix=f"/ex/jira/{acme.cloud_id}/rest/api/3/mypermissions",
        retry_after=600,
    )

    response = owner_client.get(callback)

    assert response.status_code == 503
    assert error_code(response) == "atlassian_rate_limited"
    # Retry-After: 600 (plus the client's spread against stampedes): the page says when.
    assert re.search(rb"try again in about 1[01] minutes", response.content)
    assert b"not an administrator" not in response.content
    assert f'href="/t/{people.tenant.slug}/connect/"'.encode() in response.content
    assert_nothing_stored()
    assert not AuditEvent.objects.filter(action="connect.verification_refused").exists()


def test_an_atlassian_outage_during_the_admin_check_is_shown_as_an_outage(
    portal_sandbox, people, owner_client
):
    acme = portal_sandbox.site("acme")
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))
    portal_sandbox.faults.error_rate(
        1.0, statuses=(503,), path_prefix=f"/ex/jira/{acme.cloud_id}/", retry_after=0
    )

    response = owner_client.get(callback)

    assert response.status_code == 502
    assert error_code(response) == "atlassian_unavailable"
    assert b"not an administrator" not in response.content
    assert_nothing_stored()
