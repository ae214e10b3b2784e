from datetime import timedelta

import pytest
from django.utils import timezone

from tenants import services
from tenants.exceptions import InvalidStatusChange
from tenants.models import GrantSite, JiraSite, OAuthGrant
from tenants.scopes import required_scopes
from tests.factories import GrantSiteFactory, JiraSiteFactory, OAuthGrantFactory, secret_value

pytestmark = pytest.mark.django_db

SCOPES = sorted(required_scopes())  # a consent without them all is refused (tenants.scopes)


def _consent(*, sites, account_id="557058:acct", scopes=SCOPES, user=None):
    access, refresh = secret_value("access"), secret_value("refresh")
    grant = services.grant_upsert(
        account_id=account_id,
        account_name="Ann Admin",
        account_email="ann@acme.example",
        scopes=list(scopes),
        access_token=access,
        refresh_token=refresh,
        access_token_expires_at=timezone.now() + timedelta(hours=1),
        sites=[(site, list(scopes)) for site in sites],
        acting_user=user,
    )
    return grant, access, refresh


def test_it_creates_one_grant_per_account_and_audits_it(tenant, owner, audited):
    site = JiraSiteFactory(tenant=tenant)
    grant, access, refresh = _consent(sites=[site], user=owner)

    assert grant.refresh_token == refresh and grant.access_token == access
    assert list(grant.sites.all()) == [site]
    event = audited("grant.created", actor=owner, tenant=tenant, secrets=[access, refresh])
    assert event.summary["sites_added"] == [site.cloud_id]


def test_a_second_consent_merges_sites_and_scopes_and_replaces_tokens(tenant, owner, audited):
    first_site, second_site = JiraSiteFactory(tenant=tenant), JiraSiteFactory(tenant=tenant)
    extra = "read:board-scope:jira-software"
    grant, _, old_refresh = _consent(sites=[first_site])
    again, access, refresh = _consent(
        sites=[first_site, second_site], scopes=[*SCOPES, extra], user=owner
    )

    assert again.pk == grant.pk
    assert OAuthGrant.objects.count() == 1
    fresh = OAuthGrant.objects.get()
    assert fresh.scopes == sorted([*SCOPES, extra])
    assert fresh.refresh_token == refresh != old_refresh
    assert GrantSite.objects.get(site=first_site).scopes == sorted([*SCOPES, extra])
    assert set(fresh.sites.all()) == {first_site, second_site}
    audited("grant.updated", actor=owner, tenant=tenant, secrets=[access, refresh, old_refresh])


def test_a_new_consent_repairs_a_grant_that_needed_reauth(tenant):
    link = GrantSiteFactory(site__tenant=tenant, in_use=True)
    services.grant_mark_needs_reauth(grant=link.grant, reason="invalid_grant", acting_user=None)
    _consent(sites=[link.site], account_id=link.grant.account_id)
    link.site.refresh_from_db()
    assert OAuthGrant.objects.get().status == "active"
    assert link.site.status == "active"


def test_it_stores_rotated_tokens_and_keeps_the_family_start(tenant, audited):
    link = GrantSiteFactory(site__tenant=tenant, in_use=True)
    grant = link.grant
    family = grant.family_started_at
    access, refresh = secret_value("access"), secret_value("refresh")

    services.grant_store_rotated_tokens(
        grant=grant,
        access_token=access,
        refresh_token=refresh,
        access_token_expires_at=timezone.now() + timedelta(hours=1),
        acting_user=None,
    )

    fresh = OAuthGrant.objects.get(pk=grant.pk)
    assert (fresh.access_token, fresh.refresh_token) == (access, refresh)
    assert grant.refresh_token == refresh  # the caller's instance is current too
    assert fresh.family_started_at == family and fresh.last_rotated_at is not None
    audited("grant.refreshed", actor=None, tenant=tenant, secrets=[access, refresh])


def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one():
    grant = OAuthGrantFactory()
    old = grant.refresh_token
    services.grant_store_rotated_tokens(
        grant=grant,
        access_token=secret_value("access"),
        refresh_token=None,
        access_token_expires_at=timezone.now() + timedelta(hours=1),
        acting_user=None,
    )
    assert OAuthGrant.objects.get().refresh_token == old


def test_it_marks_the_grant_and_its_sites_needs_reauth_and_says_so_only_once(tenant, audited):
    link = GrantSiteFactory(site__tenant=tenant, in_use=True)
    assert services.grant_mark_needs_reauth(
        grant=link.grant, reason="invalid_grant", acting_user=None
    )
    assert not services.grant_mark_needs_reauth(
        grant=link.grant, reason="invalid_grant", acting_user=None
    )
    site = JiraSite.objects.get()
    assert (site.status, site.status_reason) == ("needs_reauth", "invalid_grant")
    event = audited(
        "grant.needs_reauth",
        actor=None,
        tenant=tenant,
        secrets=[link.grant.access_token, link.grant.refresh_token],
    )
    assert event.summary["sites"] == [site.cloud_id]
    assert tenant.audit_events.filter(action="site.status_changed").count() == 1


def test_it_revokes_a_grant_destroying_its_tokens_and_is_idempotent(tenant, staff, audited):
    link = GrantSiteFactory(site__tenant=tenant, in_use=True)
    tokens = [link.grant.access_token, link.grant.refresh_token]
    assert services.grant_revoke(grant=link.grant, reason="customer asked", acting_user=staff)
    assert not services.grant_revoke(grant=link.grant, reason="again", acting_user=staff)
    stored = OAuthGrant.objects.get()
    assert stored.status == "revoked"
    assert stored.access_token_ciphertext is None and stored.refresh_token_ciphertext is None
    assert JiraSite.objects.get().status == "needs_reauth"
    audited("grant.revoked", actor=staff, tenant=tenant, secrets=tokens)
    with pytest.raises(InvalidStatusChange):
        services.grant_store_rotated_tokens(
            grant=stored,
            access_token="x",
            refresh_token="y",
            access_token_expires_at=timezone.now(),
            acting_user=None,
        )


def test_a_grant_reaching_two_tenants_is_audited_without_a_tenant():
    shared = GrantSiteFactory()
    GrantSiteFactory(grant=shared.grant)
    services.grant_mark_needs_reauth(grant=shared.grant, reason="invalid_grant", acting_user=None)
    from tenants.models import AuditEvent

    assert AuditEvent.objects.get(action="grant.needs_reauth").tenant is None


def test_marking_a_grant_used_never_moves_the_timestamp_backwards():
    grant = OAuthGrantFactory()
    now = timezone.now()
    services.grant_mark_used(grant=grant, at=now)
    services.grant_mark_used(grant=grant, at=now - timedelta(minutes=5))
    assert OAuthGrant.objects.get().last_used_at == now
