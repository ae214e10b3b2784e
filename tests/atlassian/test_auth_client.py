"""The auth server and platform endpoints, over HTTP against the sandbox."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from atlassian.client import AuthClient
from atlassian.exceptions import ApiServerError, ApiUnauthorized, InvalidGrant

pytestmark = pytest.mark.django_db


def _authorization_code(sandbox) -> str:
    sandbox.state.consent_as(sandbox.state.admin, ["acme"])
    answer = requests.get(sandbox.authorize_url(secrets.token_hex(4)), allow_redirects=False)
    return parse_qs(urlparse(answer.headers["Location"]).query)["code"][0]


def test_it_exchanges_a_code_for_tokens(sandbox, auth_client):
    tokens = auth_client.exchange_code(_authorization_code(sandbox), sandbox.redirect_uri)
    assert tokens.access_token and tokens.refresh_token
    assert tokens.token_type == "Bearer"
    assert "offline_access" in tokens.scopes
    assert tokens.expires_in > 0
    # Secrets stay out of repr, so a logged result leaks nothing.
    assert tokens.access_token not in repr(tokens)
    assert tokens.refresh_token not in repr(tokens)


def test_it_sends_no_authorization_header_to_the_token_endpoint(sandbox, auth_client):
    auth_client.exchange_code(_authorization_code(sandbox), sandbox.redirect_uri)
    [call] = sandbox.requests_where(path="/oauth/token")
    assert call.credential == "none"
    assert call.status == 200


def test_it_does_not_retry_a_code_exchange(sandbox, auth_client):
    sandbox.faults.fail_token_endpoint(1, status=503)
    with pytest.raises(ApiServerError):
        auth_client.exchange_code(_authorization_code(sandbox), sandbox.redirect_uri)
    assert len(sandbox.requests_where(path="/oauth/token")) == 1


def test_it_rotates_the_refresh_token(auth_client, grant):
    fresh = auth_client.refresh(grant.refresh_token)
    assert fresh.access_token != grant.access_token
    assert fresh.refresh_token and fresh.refresh_token != grant.refresh_token


def test_it_raises_invalid_grant_without_retrying(sandbox, auth_client):
    with pytest.raises(InvalidGrant) as caught:
        auth_client.refresh("not-a-refresh-token")
    assert caught.value.error in ("invalid_grant", "unauthorized_client")
    assert "not-a-refresh-token" not in str(caught.value)
    assert len(sandbox.requests_where(path="/oauth/token")) == 1


def test_it_retries_a_refresh_on_server_errors_with_the_same_token(sandbox, auth_client, grant):
    sandbox.faults.fail_token_endpoint(2, status=503)
    fresh = auth_client.refresh(grant.refresh_token)
    assert fresh.refresh_token
    assert [r.status for r in sandbox.requests_where(path="/oauth/token")][-3:] == [503, 503, 200]


def test_it_gives_up_a_refresh_quickly(sandbox, auth_client, grant):
    sandbox.faults.fail_token_endpoint(10, status=502)
    with pytest.raises(ApiServerError):
        auth_client.refresh(grant.refresh_token)
    # Two quick retries, then the caller decides (the same token stays valid for 10 minutes).
    assert len(sandbox.requests_where(path="/oauth/token", status=502)) == 3
    sandbox.faults.clear()
    assert auth_client.refresh(grant.refresh_token).refresh_token


def test_it_reads_me_and_the_accessible_resources(sandbox, auth_client, grant):
    me = auth_client.me(grant.access_token)
    assert me.account_id == sandbox.state.admin.account_id
    assert me.email == "admin@acme.test"
    [resource] = auth_client.accessible_resources(grant.access_token)
    acme = sandbox.site("acme")
    assert resource.id == acme.cloud_id
    assert resource.is_jira
    assert resource.url.startswith("http")


def test_an_invalid_access_token_is_unauthorized(sandbox, auth_client):
    with pytest.raises(ApiUnauthorized):
        auth_client.accessible_resources("nope")
    assert len(sandbox.requests_where(path="/oauth/token/accessible-resources")) == 1


def test_auth_calls_are_counted_without_a_site_or_points(sandbox, auth_client, grant, call_ledger):
    auth_client.me(grant.access_token)
    auth_client.refresh(grant.refresh_token)
    rows = {
        (k.endpoint_family, k.site_cloud_id, k.credential_kind, k.status_class): v
        for k, v in call_ledger.pending().items()
    }
    assert rows == {
        ("me", "", "vendor_grant", "2xx"): (1, 0),
        ("oauth/token", "", "vendor_grant", "2xx"): (1, 0),
    }


def test_the_client_secret_never_appears_in_errors(sandbox, atlassian_settings, client_kwargs):
    client = AuthClient(client_secret="wrong-secret-value", **client_kwargs)
    with pytest.raises(Exception) as caught:
        client.refresh("whatever")
    assert "wrong-secret-value" not in str(caught.value)
    assert "wrong-secret-value" not in repr(client)


def test_a_refresh_without_a_new_refresh_token_says_keep_the_old_one(sandbox, auth_client, grant):
    sandbox.faults.omit_refresh_token(1)
    fresh = auth_client.refresh(grant.refresh_token)
    assert fresh.access_token
    assert fresh.refresh_token is None
    # The old refresh token still works.
    assert auth_client.refresh(grant.refresh_token).refresh_token
