import re

import pytest
from django.urls import reverse

from tenants.models import AuditEvent, JiraSite, LegacyCredential, Membership, Tenant
from tests.factories import (
    AuditEventFactory,
    JiraSiteFactory,
    LegacyCredentialFactory,
    MembershipFactory,
    OAuthGrantFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _empty_inlines(client, url) -> dict[str, str]:
    """The management-form fields of every inline on the page, with no forms submitted (other
    apps may add inlines to these admins)."""
    html = client.get(url).content.decode()
    names = re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL)_FORMS)"', html)
    return dict.fromkeys(names, "0")


def test_creating_a_tenant_in_the_admin_goes_through_the_service(admin_client):
    url = reverse("admin:tenants_tenant_add")
    response = admin_client.post(
        url,
        {
            "name": "Initech",
            "slug": "initech",
            "contact_emails": '["ops@initech.example"]',
            **_empty_inlines(admin_client, url),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant = Tenant.objects.get(slug="initech")
    event = AuditEvent.objects.get(action="tenant.created")
    assert event.actor == admin_client.user and event.tenant == tenant


def test_changing_a_site_status_in_the_admin_goes_through_the_service(admin_client, tenant):
    site = JiraSiteFactory(tenant=tenant)
    url = reverse("admin:tenants_jirasite_change", args=[site.pk])
    response = admin_client.post(
        url,
        {
            "status": "disconnected",
            "status_reason": "deleted at Atlassian",
            **_empty_inlines(admin_client, url),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    site.refresh_from_db()
    assert site.status == "disconnected"
    assert AuditEvent.objects.get(action="site.status_changed").actor == admin_client.user


def test_adding_a_member_in_the_admin_is_audited(admin_client, tenant):
    user = UserFactory()
    response = admin_client.post(
        reverse("admin:tenants_membership_add"),
        {"tenant": tenant.pk, "user": user.pk, "role": "admin"},
    )
    assert response.status_code == 302
    assert Membership.objects.get(user=user).role == "admin"
    assert AuditEvent.objects.filter(action="membership.added", tenant=tenant).exists()


def test_nothing_in_the_admin_creates_a_legacy_credential(admin_client):
    assert admin_client.get(reverse("admin:tenants_legacycredential_add")).status_code == 403
    assert not LegacyCredential.objects.exists()


def test_the_audit_log_is_read_only_in_the_admin(admin_client):
    event = AuditEventFactory()
    assert admin_client.get(reverse("admin:tenants_auditevent_add")).status_code == 403
    change = reverse("admin:tenants_auditevent_change", args=[event.pk])
    assert admin_client.get(change).status_code == 200  # view only
    admin_client.post(change, {"action": "rewritten"})
    assert AuditEvent.objects.get().action == "tenant.updated"
    delete = reverse("admin:tenants_auditevent_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403


def test_secret_bearing_models_are_read_only_in_the_admin(admin_client):
    grant = OAuthGrantFactory()
    credential = LegacyCredentialFactory()
    for name, obj in (("oauthgrant", grant), ("legacycredential", credential)):
        html = admin_client.get(reverse(f"admin:tenants_{name}_change", args=[obj.pk])).content
        assert b"stored" in html
        assert b'name="_save"' not in html


def test_revoking_from_the_admin_destroys_the_tokens(admin_client):
    grant = OAuthGrantFactory()
    admin_client.post(
        reverse("admin:tenants_oauthgrant_changelist"),
        {"action": "revoke", "_selected_action": [str(grant.pk)]},
    )
    grant.refresh_from_db()
    assert grant.status == "revoked" and grant.refresh_token is None


def test_every_changelist_filters_and_searches(admin_client, tenant):
    MembershipFactory(tenant=tenant)
    JiraSiteFactory(tenant=tenant, legacy=True)
    for name in (
        "tenant",
        "membership",
        "jirasite",
        "oauthgrant",
        "legacycredential",
        "migrationcase",
        "migrationnotice",
        "auditevent",
        "grantsite",
    ):
        url = reverse(f"admin:tenants_{name}_changelist")
        assert admin_client.get(url, {"q": "acme"}).status_code == 200, name
    sites = admin_client.get(
        reverse("admin:tenants_jirasite_changelist"), {"legacy_credential__kind": "api_token"}
    )
    assert sites.status_code == 200
    assert JiraSite.objects.count() == 1


def test_the_admin_shows_a_form_error_for_a_bad_contact_email(admin_client):
    url = reverse("admin:tenants_tenant_add")
    response = admin_client.post(
        url,
        {
            "name": "Initech",
            "slug": "initech",
            "contact_emails": '["not-an-email"]',
            **_empty_inlines(admin_client, url),
        },
    )
    assert response.status_code == 200
    assert not Tenant.objects.filter(slug="initech").exists()


def test_the_admin_refuses_to_demote_the_last_owner(admin_client, tenant, owner):
    membership = Membership.objects.get(user=owner)
    response = admin_client.post(
        reverse("admin:tenants_membership_change", args=[membership.pk]), {"role": "viewer"}
    )
    assert response.status_code == 200
    assert b"at least one owner" in response.content
    assert Membership.objects.get(pk=membership.pk).role == "owner"
