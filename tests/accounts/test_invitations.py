"""Tenant owners and admins invite teammates with a role; the invitee accepts with the
invited (verified) address."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client

from portal.models import Invitation
from tenants.models import AuditEvent, Membership
from tests.accounts.conftest import verified_user
from tests.factories import MembershipFactory, TenantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant():
    return TenantFactory(slug="acme-corp", name="Acme Corp")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def invite(client, tenant, email, role):
    return client.post(f"/t/{tenant.slug}/members/", {"email": email, "role": role})


def link_in(message) -> str:
    return re.search(r"http://\S+/invitations/\S+/", message.body).group(0)


def test_an_owner_invites_a_teammate_who_accepts_with_the_role(
    tenant, django_capture_on_commit_callbacks
):
    owner = MembershipFactory(tenant=tenant, role="owner").user
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(client_for(owner), tenant, "new.admin@acme.example.com", "admin")

    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.admin@acme.example.com"]
    invitation = Invitation.objects.get()
    token = link_in(mail.outbox[0]).rstrip("/").rsplit("/", 1)[1]
    assert token not in invitation.token_hash

    invitee = verified_user(email="new.admin@acme.example.com")
    invitee_client = client_for(invitee)
    page = invitee_client.get(f"/invitations/{token}/")
    assert page.status_code == 200 and b"Join Acme Corp" in page.content
    accepted = invitee_client.post(f"/invitations/{token}/")

    assert accepted.status_code == 302
    assert Membership.objects.get(tenant=tenant, user=invitee).role == "admin"
    invitation.refresh_from_db()
    assert invitation.accepted_by == invitee
    assert AuditEvent.objects.filter(action="invitation.accepted", tenant=tenant).exists()
    assert invitee_client.post(f"/invitations/{token}/").status_code == 400  # used once


def test_an_invitation_cannot_be_accepted_by_someone_else(
    tenant, django_capture_on_commit_callbacks
):
    owner = MembershipFactory(tenant=tenant, role="owner").user
    with django_capture_on_commit_callbacks(execute=True):
        invite(client_for(owner), tenant, "invited@acme.example.com", "viewer")
    token = link_in(mail.outbox[0]).rstrip("/").rsplit("/", 1)[1]
    stranger = verified_user(email="stranger@elsewhere.example.com")

    response = client_for(stranger).post(f"/invitations/{token}/")

    assert response.status_code == 400
    assert b"This invitation is for invited@acme.example.com" in response.content
    assert not Membership.objects.filter(user=stranger).exists()


def test_an_admin_cannot_invite_an_owner(tenant):
    admin = MembershipFactory(tenant=tenant, role="admin").user

    response = invite(client_for(admin), tenant, "boss@acme.example.com", "owner")

    assert response.status_code == 400
    assert b"Only owners can invite another owner" in response.content
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role, status", [("viewer", 403), (None, 404)])
def test_viewers_and_outsiders_cannot_invite(tenant, role, status):
    user = (
        MembershipFactory(tenant=tenant, role=role).user
        if role
        else MembershipFactory(role="owner").user
    )

    response = invite(client_for(user), tenant, "x@acme.example.com", "viewer")

    assert response.status_code == status
    assert not Invitation.objects.exists()


def test_an_invalid_address_is_refused_with_a_message(tenant):
    owner = MembershipFactory(tenant=tenant, role="owner").user

    response = invite(client_for(owner), tenant, "not-an-address", "viewer")

    assert response.status_code == 400
    assert b"valid e-mail address" in response.content
    assert not Invitation.objects.exists()


def test_a_signed_out_invitee_signs_up_from_the_link_and_is_a_member_after_confirming(
    tenant, django_capture_on_commit_callbacks
):
    owner = MembershipFactory(tenant=tenant, role="owner", user__email="boss@acme.example.com").user
    with django_capture_on_commit_callbacks(execute=True):
        invite(client_for(owner), tenant, "new.viewer@acme.example.com", "viewer")
    link = link_in(mail.outbox[-1])
    path = urlsplit(link).path
    client = Client()

    landing = client.get(path).content.decode()
    assert "Join Acme Corp" in landing and "boss@acme.example.com" in landing
    assert "new.viewer@acme.example.com" in landing
    signup = re.search(r'href="(/accounts/signup/\?[^"]+)"', landing).group(1).replace("&amp;", "&")
    assert 'value="new.viewer@acme.example.com"' in client.get(signup).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            signup,
            {
                "email": "new.viewer@acme.example.com",
                "password1": "a long enough passphrase 7",
                "password2": "a long enough passphrase 7",
            },
        )
    confirmation = mail.outbox[-1]
    assert "Acme Corp" in confirmation.body and "Hello from" not in confirmation.body
    confirm = re.search(r"/accounts/confirm-email/[^\s/]+/", confirmation.body).group(0)
    assert client.post(confirm)["Location"] == path

    assert client.get(path)["Location"] == "/"
    membership = Membership.objects.get(tenant=tenant, user__email="new.viewer@acme.example.com")
    assert membership.role == "viewer"
    assert Invitation.objects.get().accepted_by == membership.user


def test_a_waiting_teammate_invitation_is_named_on_the_invitees_home_page(
    tenant, django_capture_on_commit_callbacks
):
    owner = MembershipFactory(tenant=tenant, role="owner").user
    with django_capture_on_commit_callbacks(execute=True):
        invite(client_for(owner), tenant, "later@acme.example.com", "admin")

    home = client_for(verified_user(email="later@acme.example.com")).get("/").content.decode()

    assert "Invitations waiting for you" in home
    assert "Acme Corp invited later@acme.example.com to join as admin" in home
    assert "Ask an owner" not in home
