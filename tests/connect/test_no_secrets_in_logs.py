"""With every logger at DEBUG, no token, code or client secret reaches any log handler."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from tenants.models import OAuthGrant
from tenants.tokens import access_token_for_grant
from tests.connect.conftest import follow_authorize, query_of, start_flow

CHATTY = ("oauthlib", "requests_oauthlib", "urllib3", "atlassian", "tenants", "portal", "django")


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def everything_at_debug(caplog):
    root = logging.getLogger()
    handler = Collect()
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    previous = {name: logging.getLogger(name).level for name in CHATTY}
    previous_root = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous_root)
    for name, level in previous.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.django_db
def test_the_connect_flow_and_a_refresh_log_no_secret(
    portal_sandbox, people, owner_client, everything_at_debug, caplog, settings
):
    portal_sandbox.consent_as(portal_sandbox.admin, sites=["acme"])
    callback = follow_authorize(start_flow(owner_client, people.tenant.slug))
    code = query_of(callback)["code"]
    assert owner_client.get(callback).status_code == 200
    grant = OAuthGrant.objects.get()
    secrets = {
        "code": code,
        "first access token": grant.access_token,
        "first refresh token": grant.refresh_token,
        "client secret": settings.ATLASSIAN_CLIENT_SECRET,
    }
    OAuthGrant.objects.filter(pk=grant.pk).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    access_token_for_grant(grant.pk)
    grant.refresh_from_db()
    secrets["rotated access token"] = grant.access_token
    secrets["rotated refresh token"] = grant.refresh_token
    # Libraries that log request bodies and headers must be covered as well.
    logging.getLogger("oauthlib.oauth2.rfc6749.parameters").debug(
        "Prepared token request body: grant_type=refresh_token&refresh_token=%s&client_secret=%s",
        grant.refresh_token,
        settings.ATLASSIAN_CLIENT_SECRET,
    )
    logging.getLogger("requests_oauthlib.oauth2_session").debug(
        "Obtained token {'access_token': '%s', 'refresh_token': '%s'}",
        grant.access_token,
        grant.refresh_token,
    )
    logging.getLogger("portal.anything").debug("Authorization: Bearer %s", grant.access_token)
    logging.getLogger("some.library").debug("got token %s", grant.access_token)

    captured = {
        "root handler": "\n".join(everything_at_debug.lines),
        "caplog": caplog.text + "\n".join(r.getMessage() for r in caplog.records),
    }
    assert everything_at_debug.lines, "nothing was logged: the test would prove nothing"
    for where, text in captured.items():
        for name, value in secrets.items():
            assert value not in text, f"the {name} leaked into the {where} logs"
    assert "[redacted]" in captured["root handler"]
