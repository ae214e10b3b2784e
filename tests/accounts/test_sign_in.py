"""Customer accounts: sign-up with a verified e-mail, sign-in by password or by an e-mailed
code, rate-limited failures, sessions that expire."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from tenants.models import User
from tests.accounts.conftest import PASSWORD, verified_user

pytestmark = pytest.mark.django_db


def test_signing_up_requires_verifying_the_email_before_signing_in(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "new@customer.example.com", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert User.objects.filter(email="new@customer.example.com").exists()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@customer.example.com"]
    assert "_auth_user_id" not in client.session  # not signed in until verified


def test_a_verified_user_signs_in_with_a_password(client):
    user = verified_user()

    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_user_signs_in_with_a_code_sent_by_email(client):
    user = verified_user()

    response = client.post("/accounts/login/code/", {"email": user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    code = re.search(r"^\s*([A-Z0-9-]{6,})\s*$", mail.outbox[0].body, re.M).group(1)

    confirmed = client.post(response["Location"], {"code": code})

    assert confirmed.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_wrong_login_code_does_not_sign_in(client):
    user = verified_user()
    response = client.post("/accounts/login/code/", {"email": user.email})

    client.post(response["Location"], {"code": "WRONG1"})

    assert "_auth_user_id" not in client.session


def test_repeated_failed_logins_are_rate_limited():
    user = verified_user()
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"login": user.email, "password": "wrong password"})

    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})

    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 429)
    assert b"Too many" in response.content or response.status_code == 429


def test_sessions_expire():
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    user = verified_user()
    client = Client()
    client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert client.session.get_expiry_age() <= settings.SESSION_COOKIE_AGE
