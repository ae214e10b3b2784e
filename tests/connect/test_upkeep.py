"""Grant upkeep: idle grants refreshed, expiring families invited to consent again, sites a
grant no longer reaches marked; the beat schedule names real tasks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from portal.celery import app
from tenants import tasks, upkeep
from tenants.models import OAuthGrant
from tests.connect.conftest import connected_grant, token_requests
from tests.factories import MembershipFactory, OAuthGrantFactory, TenantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery():
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_a_grant_idle_for_more_than_30_days_is_refreshed_once(portal_sandbox, eager_celery):
    grant, _ = connected_grant(portal_sandbox, expired=False)
    OAuthGrant.objects.filter(pk=grant.pk).update(
        last_rotated_at=timezone.now() - timedelta(days=31)
    )
    recent = OAuthGrantFactory(last_rotated_at=timezone.now() - timedelta(days=2))
    old_refresh = grant.refresh_token

    assert upkeep.idle_grant_ids() == [grant.pk]
    tasks.refresh_idle_grants.delay()
    tasks.refresh_idle_grants.delay()  # a second beat (or a duplicate delivery) does nothing

    grant.refresh_from_db()
    assert grant.refresh_token != old_refresh
    assert grant.last_rotated_at > timezone.now() - timedelta(minutes=1)
    assert len(token_requests(portal_sandbox)) == 1
    assert recent.pk not in upkeep.idle_grant_ids()


def test_an_idle_grant_that_was_revoked_becomes_needs_reauth(
    portal_sandbox, django_capture_on_commit_callbacks
):
    tenant = TenantFactory()
    MembershipFactory(tenant=tenant, role="owner")
    grant, _ = connected_grant(portal_sandbox, tenant=tenant, expired=False)
    OAuthGrant.objects.filter(pk=grant.pk).update(
        last_rotated_at=timezone.now() - timedelta(days=40)
    )
    portal_sandbox.revoke_grant(portal_sandbox.admin)

    with django_capture_on_commit_callbacks(execute=True):
        assert upkeep.refresh_idle_grant(grant_id=grant.pk) is False

    grant.refresh_from_db()
    assert grant.status == "needs_reauth"
    assert len(mail.outbox) == 1


def test_owners_are_invited_to_consent_again_once_before_the_family_expires(
    portal_sandbox, django_capture_on_commit_callbacks
):
    tenant = TenantFactory()
    owner = MembershipFactory(tenant=tenant, role="owner").user
    grant, _ = connected_grant(portal_sandbox, tenant=tenant, expired=False)
    OAuthGrant.objects.filter(pk=grant.pk).update(
        family_started_at=timezone.now() - timedelta(days=340)
    )
    fresh = OAuthGrantFactory(family_started_at=timezone.now() - timedelta(days=300))

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.invite_expiring_grants.apply().get() == 1
        assert tasks.invite_expiring_grants.apply().get() == 0

    assert len(mail.outbox) == 1
    assert owner.email in mail.outbox[0].to
    assert f"/t/{tenant.slug}/connect/" in mail.outbox[0].body
    assert upkeep.expiring_grant_ids() == [grant.pk]
    grant.refresh_from_db()
    assert upkeep.grant_reconsent_invited(grant)
    assert fresh.pk not in upkeep.expiring_grant_ids()


def test_sites_the_grant_no_longer_reaches_are_marked_disconnected(portal_sandbox):
    grant, (acme, globex) = connected_grant(portal_sandbox, sites=("acme", "globex"), expired=False)
    portal_sandbox.delete_site("globex")

    lost = upkeep.reconcile_grant_sites(grant_id=grant.pk)

    assert lost == [globex.cloud_id]
    acme.refresh_from_db()
    globex.refresh_from_db()
    assert acme.status == "active"
    assert globex.status == "disconnected" and "no longer reaches" in globex.status_reason
    assert upkeep.reconcile_grant_sites(grant_id=grant.pk) == []  # idempotent


def test_reconciling_a_revoked_grant_marks_it_needs_reauth(portal_sandbox):
    grant, (site,) = connected_grant(portal_sandbox, expired=False)
    portal_sandbox.revoke_grant(portal_sandbox.admin)

    assert upkeep.reconcile_grant_sites(grant_id=grant.pk) == []

    grant.refresh_from_db()
    site.refresh_from_db()
    assert grant.status == "needs_reauth" and site.status == "needs_reauth"
    assert [r.status for r in token_requests(portal_sandbox)] == [403]


def test_the_beat_schedule_names_registered_tasks():
    app.loader.import_default_modules()
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "portal.purge_expired_connect_rows" in names
    assert {
        "tenants.upkeep.refresh_idle_grants",
        "tenants.upkeep.invite_expiring_grants",
        "tenants.upkeep.reconcile_all_grants",
    } <= names
    assert names <= set(app.tasks)


def test_expired_pending_connections_and_old_states_are_purged(portal_sandbox, people):
    from portal.models import OAuthState, PendingConnection
    from portal.tasks import purge_expired_connect_rows

    now = timezone.now()
    old = OAuthState.objects.create(
        token_hash="a" * 64,
        user=people.owner,
        session_key_hash="b" * 64,
        tenant=people.tenant,
        expires_at=now - timedelta(days=2),
    )
    recent = OAuthState.objects.create(
        token_hash="c" * 64,
        user=people.owner,
        session_key_hash="b" * 64,
        tenant=people.tenant,
        expires_at=now - timedelta(minutes=1),
    )
    pending = PendingConnection(
        state=recent,
        account_id="acct",
        access_token_expires_at=now,
        expires_at=now - timedelta(minutes=1),
    )
    pending.access_token = "secret-access"
    pending.save()

    assert purge_expired_connect_rows() == (1, 1)

    assert not PendingConnection.objects.exists()
    assert list(OAuthState.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not OAuthState.objects.filter(pk=old.pk).exists()
