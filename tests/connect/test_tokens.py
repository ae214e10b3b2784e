"""Tokens on demand against the sandbox: refresh ahead of expiry, single-flight under a lock,
rotation persisted before use, recovery after a crash, and revocation as a state."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from atlassian.client import AuthClient
from tenants import tokens
from tenants.models import AuditEvent, JiraSite, OAuthGrant
from tenants.tokens import (
    SiteNeedsReauthorization,
    TokenUnavailable,
    access_token_for_grant,
    access_token_for_site,
)
from tests.connect.conftest import connected_grant, token_requests
from tests.factories import MembershipFactory, OAuthGrantFactory, TenantFactory


def token_works(token: str) -> bool:
    with AuthClient() as client:
        return bool(client.accessible_resources(token))


@pytest.mark.django_db
def test_it_returns_the_stored_token_while_it_is_fresh(portal_sandbox):
    grant, _ = connected_grant(portal_sandbox, expired=False)
    stored = grant.access_token

    assert access_token_for_grant(grant.pk) == stored
    assert token_requests(portal_sandbox) == []


@pytest.mark.django_db
def test_it_refreshes_ahead_of_expiry_and_commits_the_rotated_refresh_token(portal_sandbox):
    grant, _ = connected_grant(portal_sandbox, expired=False)
    old_access, old_refresh = grant.access_token, grant.refresh_token
    OAuthGrant.objects.filter(pk=grant.pk).update(
        access_token_expires_at=timezone.now() + timedelta(minutes=4)
    )

    token = access_token_for_grant(grant.pk)

    grant.refresh_from_db()
    assert token != old_access and token == grant.access_token
    assert grant.refresh_token != old_refresh  # rotated and stored
    assert grant.access_token_expires_at > timezone.now() + timedelta(minutes=50)
    assert [r.status for r in token_requests(portal_sandbox)] == [200]
    assert token_works(token)
    assert AuditEvent.objects.filter(action="grant.refreshed").count() == 1


@pytest.mark.django_db
def test_a_refresh_response_without_a_refresh_token_keeps_the_old_one(portal_sandbox):
    tenant = TenantFactory()
    grant, _ = connected_grant(portal_sandbox, tenant=tenant)
    old_refresh = grant.refresh_token
    # Scopes without offline_access: Atlassian answers without a refresh token.
    remote = portal_sandbox.grant_for(portal_sandbox.admin)
    remote.scopes = [s for s in remote.scopes if s != "offline_access"]

    token = access_token_for_grant(grant.pk)

    grant.refresh_from_db()
    assert grant.refresh_token == old_refresh
    assert grant.access_token == token and grant.status == "active"


@pytest.mark.django_db
def test_transient_token_endpoint_failures_are_retried_quickly(portal_sandbox, fast_auth_client):
    grant, _ = connected_grant(portal_sandbox)
    portal_sandbox.faults.fail_token_endpoint(2, status=503)

    token = access_token_for_grant(grant.pk, auth_client=fast_auth_client)

    assert token_works(token)
    assert [r.status for r in token_requests(portal_sandbox)] == [503, 503, 200]
    grant.refresh_from_db()
    assert grant.status == "active"


@pytest.mark.django_db
def test_a_lasting_outage_leaves_the_grant_active_with_its_old_refresh_token(
    portal_sandbox, fast_auth_client
):
    grant, _ = connected_grant(portal_sandbox)
    old_refresh = grant.refresh_token
    portal_sandbox.faults.fail_token_endpoint(10, status=500)

    with pytest.raises(TokenUnavailable):
        access_token_for_grant(grant.pk, auth_client=fast_auth_client)

    grant.refresh_from_db()
    assert grant.status == "active" and grant.refresh_token == old_refresh
    assert len(token_requests(portal_sandbox)) == 3  # one try and two quick retries
    portal_sandbox.faults.clear()
    assert token_works(access_token_for_grant(grant.pk))


@pytest.mark.django_db
def test_a_revoked_grant_needs_reauth_notifies_the_admins_once_and_is_never_retried(
    portal_sandbox, django_capture_on_commit_callbacks
):
    tenant = TenantFactory()
    owner = MembershipFactory(tenant=tenant, role="owner").user
    admin = MembershipFactory(tenant=tenant, role="admin").user
    MembershipFactory(tenant=tenant, role="viewer")
    grant, (site,) = connected_grant(portal_sandbox, tenant=tenant)
    portal_sandbox.revoke_grant(portal_sandbox.admin)

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(SiteNeedsReauthorization) as raised:
            access_token_for_site(site)
        with pytest.raises(SiteNeedsReauthorization):
            access_token_for_site(site)
        with pytest.raises(SiteNeedsReauthorization):
            access_token_for_grant(grant.pk)

    assert "invalid_grant" in raised.value.reason
    grant.refresh_from_db()
    site.refresh_from_db()
    assert grant.status == "needs_reauth" and "invalid_grant" in grant.status_reason
    assert site.status == "needs_reauth" and site.status_reason == grant.status_reason
    assert len(token_requests(portal_sandbox)) == 1
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == sorted([owner.email, admin.email])
    assert f"/t/{tenant.slug}/connect/" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="grant.needs_reauth").count() == 1


@pytest.mark.django_db
def test_a_site_that_needs_reauth_gets_no_token(portal_sandbox):
    _grant, (site,) = connected_grant(portal_sandbox)
    JiraSite.objects.filter(pk=site.pk).update(status="needs_reauth", status_reason="revoked")

    with pytest.raises(SiteNeedsReauthorization, match="revoked"):
        access_token_for_site(site)
    assert token_requests(portal_sandbox) == []


@pytest.mark.django_db
def test_a_grant_without_a_refresh_token_needs_reauth(portal_sandbox):
    grant = OAuthGrantFactory(
        refresh_token=None, access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )

    with pytest.raises(SiteNeedsReauthorization):
        access_token_for_grant(grant.pk)

    grant.refresh_from_db()
    assert grant.status == "needs_reauth"
    assert token_requests(portal_sandbox) == []


@pytest.mark.django_db
def test_a_worker_that_died_before_committing_is_recovered_by_the_next_attempt(
    portal_sandbox, monkeypatch
):
    grant, _ = connected_grant(portal_sandbox)
    old_refresh = grant.refresh_token

    def die(_grant):
        raise SystemExit("worker killed after Atlassian rotated the token")

    monkeypatch.setattr(tokens, "_after_refresh_response", die)
    with pytest.raises(SystemExit):
        access_token_for_grant(grant.pk)
    grant.refresh_from_db()
    assert grant.refresh_token == old_refresh  # nothing committed: the old token is kept

    monkeypatch.setattr(tokens, "_after_refresh_response", None)
    portal_sandbox.clock.advance(minutes=5)  # still within the 10-minute reuse interval
    token = access_token_for_grant(grant.pk)

    grant.refresh_from_db()
    assert grant.status == "active" and grant.refresh_token != old_refresh
    assert token_works(token)
    assert [r.status for r in token_requests(portal_sandbox)] == [200, 200]
    # And the recovered family keeps rotating normally.
    OAuthGrant.objects.filter(pk=grant.pk).update(access_token_expires_at=timezone.now())
    assert token_works(access_token_for_grant(grant.pk))


@pytest.mark.django_db
def test_a_crash_recovered_too_late_needs_reauth_with_one_notification(
    portal_sandbox, monkeypatch, django_capture_on_commit_callbacks
):
    tenant = TenantFactory()
    MembershipFactory(tenant=tenant, role="owner")
    grant, _ = connected_grant(portal_sandbox, tenant=tenant)

    def die(_grant):
        raise SystemExit("worker killed")

    monkeypatch.setattr(tokens, "_after_refresh_response", die)
    with pytest.raises(SystemExit):
        access_token_for_grant(grant.pk)
    monkeypatch.setattr(tokens, "_after_refresh_response", None)
    portal_sandbox.clock.advance(minutes=11)  # past the reuse interval

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(SiteNeedsReauthorization):
            access_token_for_grant(grant.pk)
        with pytest.raises(SiteNeedsReauthorization):
            access_token_for_grant(grant.pk)

    grant.refresh_from_db()
    assert grant.status == "needs_reauth"
    assert len(mail.outbox) == 1
    assert [r.status for r in token_requests(portal_sandbox)] == [200, 403]


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_callers_cause_exactly_one_refresh(portal_sandbox, on_postgres):
    grant, _ = connected_grant(portal_sandbox)
    old_refresh = grant.refresh_token
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def caller():
        try:
            barrier.wait()
            results.append(access_token_for_grant(grant.pk))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(results) == 20
    assert len(token_requests(portal_sandbox)) == 1
    assert len(set(results)) == 1 and token_works(results[0])
    grant.refresh_from_db()
    assert grant.status == "active" and grant.refresh_token != old_refresh
    assert grant.access_token == results[0]
