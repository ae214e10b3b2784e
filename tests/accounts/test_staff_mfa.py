"""Staff reach the Django admin only through allauth's login, with TOTP set up and used."""

from __future__ import annotations

import pytest
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.test import Client

from tests.accounts.conftest import PASSWORD, verified_user

pytestmark = pytest.mark.django_db


def current_code(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def sign_in(client: Client, user) -> object:
    return client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})


def test_the_admin_login_page_is_allauths(client):
    response = client.get("/admin/login/?next=/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_an_anonymous_visitor_of_the_admin_is_sent_to_allauths_login(client):
    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1][0].startswith("/accounts/login/")


def test_a_staff_user_without_mfa_is_sent_to_set_up_totp(client):
    staff = verified_user(is_staff=True, is_superuser=True)
    assert sign_in(client, staff).status_code == 302

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/totp/activate/")
    assert client.get("/admin/tenants/tenant/").status_code == 302


def test_a_staff_user_signed_in_without_the_second_factor_must_reauthenticate(client):
    staff = verified_user(is_staff=True, is_superuser=True)
    TOTP.activate(staff, generate_totp_secret())
    client.force_login(staff)  # a session that never passed the TOTP step

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/reauthenticate/")


def test_a_staff_user_with_totp_signs_in_with_the_code_and_reaches_the_admin(client):
    staff = verified_user(is_staff=True, is_superuser=True)
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)

    first = sign_in(client, staff)
    assert first.status_code == 302
    assert first["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/admin/").status_code == 302  # not signed in until the code is given

    second = client.post("/accounts/2fa/authenticate/", {"code": current_code(secret)})
    assert second.status_code == 302

    assert client.get("/admin/").status_code == 200


def test_a_wrong_totp_code_does_not_open_the_admin(client):
    staff = verified_user(is_staff=True, is_superuser=True)
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)
    sign_in(client, staff)
    wrong = "000000" if current_code(secret) != "000000" else "111111"

    response = client.post("/accounts/2fa/authenticate/", {"code": wrong})

    assert response.status_code == 200  # the form again, with an error
    assert client.get("/admin/").status_code == 302


def test_a_customer_user_gets_no_admin(client):
    customer = verified_user()
    sign_in(client, customer)

    assert client.get("/admin/login/").status_code == 403


def test_a_staff_user_sets_up_totp_saves_the_recovery_codes_and_goes_on_to_the_admin(client):
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY

    staff = verified_user(is_staff=True, is_superuser=True)
    sign_in(client, staff)
    to_setup = client.get("/admin/tenants/tenant/")["Location"]
    assert to_setup == "/accounts/2fa/totp/activate/?next=%2Fadmin%2Ftenants%2Ftenant%2F"
    # The password typed a moment ago is proof enough: no second password prompt.
    setup = client.get(to_setup)
    assert setup.status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    page = setup.content.decode()
    assert f'data-secret="{secret}">{secret}</p>' in page  # the whole secret, to copy
    assert "otpauth://totp/" in page
    assert 'name="next" value="/admin/tenants/tenant/"' in page

    activated = client.post(
        "/accounts/2fa/totp/activate/",
        {"code": current_code(secret), "next": "/admin/tenants/tenant/"},
    )

    assert activated.status_code == 302
    assert (
        activated["Location"] == "/accounts/2fa/recovery-codes/?next=%2Fadmin%2Ftenants%2Ftenant%2F"
    )
    assert Authenticator.objects.filter(user=staff, type="totp").exists()
    codes = client.get(activated["Location"]).content.decode()
    assert 'id="continue" href="/admin/tenants/tenant/"' in codes
    assert "continue to the admin" in codes
    # The code that activated the app was this session's second factor: the admin opens.
    assert client.get("/admin/tenants/tenant/").status_code == 200


def test_setting_up_totp_long_after_signing_in_asks_for_the_password_again(client):
    staff = verified_user(is_staff=True, is_superuser=True)
    sign_in(client, staff)
    session = client.session
    for record in session["account_authentication_methods"]:
        record["at"] -= 3600
    session.save()

    assert client.get("/accounts/2fa/totp/activate/")["Location"].startswith(
        "/accounts/reauthenticate/"
    )


def test_the_way_on_after_set_up_never_leaves_the_site(client):
    staff = verified_user(is_staff=True, is_superuser=True)
    sign_in(client, staff)
    TOTP.activate(staff, generate_totp_secret())
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    RecoveryCodes.activate(staff)

    page = client.get("/accounts/2fa/recovery-codes/?next=https://evil.example/").content.decode()

    assert "evil.example" not in page
    assert 'id="continue" href="/admin/"' in page


def test_a_staff_user_can_sign_in_with_a_recovery_code(client):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    staff = verified_user(is_staff=True, is_superuser=True)
    TOTP.activate(staff, generate_totp_secret())
    recovery = RecoveryCodes.activate(staff)
    sign_in(client, staff)

    client.post("/accounts/2fa/authenticate/", {"code": recovery.get_unused_codes()[0]})

    assert client.get("/admin/").status_code == 200


def test_the_sign_in_page_uses_the_portal_layout(client):
    page = client.get("/accounts/login/")

    assert page.status_code == 200
    assert b"Skip to content" in page.content and b'<main id="main">' in page.content
    assert b"<title>" in page.content and b"Jira Backup</title>" in page.content
