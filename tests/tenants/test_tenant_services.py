import pytest

from tenants import services
from tenants.exceptions import DomainError, InvalidStatusChange, LastOwner
from tenants.models import JiraSite, LegacyCredential, Membership, OAuthGrant, Tenant
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    MembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_it_creates_a_tenant_and_audits_it(staff, audited):
    tenant = services.tenant_create(
        name="Globex", slug="globex", contact_emails=["Ops@Globex.example"], acting_user=staff
    )
    assert tenant.contact_emails == ["ops@globex.example"]
    event = audited("tenant.created", actor=staff, tenant=tenant)
    assert event.summary["slug"] == "globex"


def test_it_refuses_a_taken_slug(tenant, staff):
    with pytest.raises(DomainError, match="already taken"):
        services.tenant_create(name="Other", slug=tenant.slug, acting_user=staff)


def test_it_refuses_an_invalid_contact_email(staff):
    with pytest.raises(DomainError, match="not a valid e-mail"):
        services.tenant_create(
            name="Globex", slug="globex", contact_emails=["nope"], acting_user=staff
        )


def test_it_updates_a_tenant_and_audits_the_changes(tenant, owner, audited):
    services.tenant_update(tenant=tenant, name="Acme Corp", acting_user=owner)
    event = audited("tenant.updated", actor=owner, tenant=tenant)
    assert event.summary["changes"] == {"name": ["Acme", "Acme Corp"]}


def test_an_update_that_changes_nothing_writes_no_event(tenant, owner):
    services.tenant_update(tenant=tenant, name=tenant.name, acting_user=owner)
    assert not tenant.audit_events.filter(action="tenant.updated").exists()


def test_it_suspends_once_and_audits_it(tenant, staff, audited):
    assert services.tenant_suspend(tenant=tenant, reason="unpaid", acting_user=staff) is True
    assert services.tenant_suspend(tenant=tenant, reason="unpaid", acting_user=staff) is False
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.SUSPENDED
    event = audited("tenant.suspended", actor=staff, tenant=tenant)
    assert event.summary == {"from": "active", "to": "suspended", "reason": "unpaid"}
    assert tenant.audit_events.filter(action="tenant.suspended").count() == 1


def test_it_reactivates_a_suspended_tenant_and_audits_it(tenant, staff, audited):
    services.tenant_suspend(tenant=tenant, reason="unpaid", acting_user=staff)
    assert services.tenant_reactivate(tenant=tenant, acting_user=None) is True
    audited("tenant.reactivated", actor=None, tenant=tenant)


def test_an_offboarded_tenant_cannot_be_reactivated(tenant, staff):
    services.tenant_offboard(tenant=tenant, reason="contract ended", acting_user=staff)
    with pytest.raises(InvalidStatusChange, match="offboarded"):
        services.tenant_reactivate(tenant=tenant, acting_user=staff)


def test_offboarding_stops_sites_shreds_legacy_secrets_and_revokes_own_grants(
    tenant, staff, audited
):
    legacy_site = JiraSiteFactory(tenant=tenant, legacy=True)
    own = GrantSiteFactory(site__tenant=tenant, in_use=True)
    shared = GrantSiteFactory(site__tenant=tenant)
    GrantSiteFactory(grant=shared.grant)  # the shared grant also reaches another tenant's site

    assert services.tenant_offboard(tenant=tenant, reason="contract ended", acting_user=staff)

    audited("tenant.offboarded", actor=staff, tenant=tenant)
    assert set(JiraSite.objects.filter(tenant=tenant).values_list("status", flat=True)) == {
        "offboarded"
    }
    credential = LegacyCredential.objects.get(pk=legacy_site.legacy_credential_id)
    assert credential.status == "purged" and not credential.has_secret
    assert OAuthGrant.objects.get(pk=own.grant_id).status == "revoked"
    assert OAuthGrant.objects.get(pk=shared.grant_id).status == "active"


def test_it_adds_a_member_and_audits_it(tenant, owner, audited):
    user = UserFactory()
    membership = services.membership_add(tenant=tenant, user=user, role="admin", acting_user=owner)
    assert membership.role == "admin"
    event = audited("membership.added", actor=owner, tenant=tenant)
    assert event.summary == {"user_id": user.pk, "role": "admin"}


def test_it_refuses_a_second_membership_for_the_same_user(tenant, owner):
    with pytest.raises(DomainError, match="already a member"):
        services.membership_add(tenant=tenant, user=owner, role="viewer", acting_user=owner)


def test_it_changes_a_role_and_audits_it(tenant, owner, teammate, audited):
    membership = Membership.objects.get(user=teammate)
    services.membership_change_role(membership=membership, role="admin", acting_user=owner)
    event = audited("membership.role_changed", actor=owner, tenant=tenant)
    assert event.summary["from"] == "viewer" and event.summary["to"] == "admin"


def test_it_never_demotes_or_removes_the_last_owner(tenant, owner):
    membership = Membership.objects.get(user=owner)
    with pytest.raises(LastOwner):
        services.membership_change_role(membership=membership, role="viewer", acting_user=owner)
    with pytest.raises(LastOwner):
        services.membership_remove(membership=membership, acting_user=owner)


def test_it_removes_a_member_and_audits_it(tenant, owner, teammate, audited):
    membership = Membership.objects.get(user=teammate)
    services.membership_remove(membership=membership, acting_user=owner)
    assert not Membership.objects.filter(user=teammate).exists()
    audited("membership.removed", actor=owner, tenant=tenant)


def test_a_second_owner_can_leave(tenant, owner):
    other = MembershipFactory(tenant=tenant)
    services.membership_remove(membership=other, acting_user=owner)
    assert list(tenant.memberships.values_list("user", flat=True)) == [owner.pk]
