"""Staff personas for the operations console: one per role (groups made by the data
migration), a superuser (break-glass) and a staff member with no role. Every persona has
TOTP and used it in the session: staff reach the admin only with MFA."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from tests.factories import UserFactory

ROLES = ("Support", "Operator", "Security admin")


def mfa_client(user) -> Client:
    from allauth.mfa.models import Authenticator

    Authenticator.objects.get_or_create(
        user=user, type=Authenticator.Type.TOTP, defaults={"data": {"secret": "x"}}
    )
    client = Client()
    client.force_login(user)
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "mfa", "type": "totp", "at": time.time()}
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    client.user = user
    return client


def staff_with_role(role: str | None, *, superuser: bool = False):
    name = (role or ("superuser" if superuser else "norole")).lower().replace(" ", "-")
    user = UserFactory(username=f"staff-{name}", staff=True, is_superuser=superuser)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def as_role(db):
    """``as_role("Support")`` → a signed-in client; ``as_role(None)`` a staff member with no
    role; ``as_role("superuser")`` the break-glass superuser."""

    def make(role: str | None) -> Client:
        if role == "superuser":
            return mfa_client(staff_with_role(None, superuser=True))
        return mfa_client(staff_with_role(role))

    return make


@pytest.fixture
def superuser_client(as_role):
    return as_role("superuser")
