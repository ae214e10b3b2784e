"""Legacy credentials: allowed before the cutoff, refused before sending after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atlassian.client import JiraClient
from atlassian.exceptions import ApiUnauthorized, LegacyAccessRefused
from atlassian.models import CredentialKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def legacy(atlassian_settings, sandbox, client_kwargs):
    def build(api_token=None, **kwargs):
        return JiraClient.for_legacy_api_token(
            f"{sandbox.url}/site/acme",
            "admin@acme.test",
            lambda: api_token or sandbox.state.demo_api_token,
            site_id=7,
            **{**client_kwargs, **kwargs},
        )

    return build


def test_a_legacy_api_token_works_before_the_cutoff(legacy_allowed, legacy, sandbox, call_ledger):
    client = legacy()
    assert client.myself()["emailAddress"] == "admin@acme.test"
    [call] = sandbox.requests_where(path="/site/acme/rest/api/3/myself")
    assert call.credential == "basic"
    [key] = call_ledger.pending()
    assert key.credential_kind == "legacy_api_token"
    assert key.pool.startswith("api-token:")


def test_a_wrong_api_token_is_unauthorized(legacy_allowed, legacy):
    client = legacy(api_token="wrong")
    with pytest.raises(ApiUnauthorized):
        client.myself()


def test_nothing_is_sent_with_a_legacy_credential_after_the_cutoff(
    settings, atlassian_settings, sandbox, client_kwargs
):
    settings.LEGACY_CUTOFF = datetime(2026, 1, 1, tzinfo=UTC)
    token_reads = []
    client = JiraClient.for_legacy_api_token(
        f"{sandbox.url}/site/acme",
        "admin@acme.test",
        lambda: token_reads.append(1) or sandbox.state.demo_api_token,
        **client_kwargs,
    )
    with pytest.raises(LegacyAccessRefused) as caught:
        client.myself()
    assert caught.value.reason == "cutoff"
    assert sandbox.requests_where(credential="basic") == []
    # The secret was not even decrypted.
    assert token_reads == []


def test_the_cutoff_is_checked_before_every_request(settings, legacy, sandbox):
    cutoff = datetime(2030, 1, 1, tzinfo=UTC)
    settings.LEGACY_CUTOFF = cutoff
    clock = {"now": cutoff - timedelta(seconds=1)}
    client = legacy(now=lambda: clock["now"])
    assert client.myself()
    clock["now"] = cutoff
    with pytest.raises(LegacyAccessRefused):
        client.myself()
    assert len(sandbox.requests_where(credential="basic")) == 1


def test_a_brownout_refuses_legacy_requests(legacy_allowed, legacy, sandbox):
    seen = {}

    def brownout(*, site_id, credential_kind, now):
        seen.update(site_id=site_id, credential_kind=credential_kind)
        return "scheduled brownout 10:00-11:00 UTC"

    with pytest.raises(LegacyAccessRefused) as caught:
        legacy(brownout=brownout).server_info()
    assert caught.value.reason == "brownout"
    assert "brownout" in str(caught.value)
    assert seen == {"site_id": 7, "credential_kind": "legacy_api_token"}
    assert sandbox.requests_where(credential="basic") == []


def test_a_customer_owned_oauth_app_is_legacy_too(
    settings, atlassian_settings, sandbox, grant, client_kwargs
):
    settings.LEGACY_CUTOFF = datetime(2026, 1, 1, tzinfo=UTC)
    client = JiraClient.for_grant(
        sandbox.site("acme").cloud_id,
        lambda: grant.access_token,
        credential_kind=CredentialKind.LEGACY_CUSTOMER_APP,
        **client_kwargs,
    )
    with pytest.raises(LegacyAccessRefused):
        client.myself()
    assert sandbox.requests_where(credential="bearer") == []


def test_the_vendor_grant_is_not_affected_by_the_cutoff(settings, jira):
    settings.LEGACY_CUTOFF = datetime(2000, 1, 1, tzinfo=UTC)
    assert jira.myself()
