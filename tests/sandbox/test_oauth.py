"""The authorization server: /authorize, the consent page, /oauth/token and the identity APIs."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import requests

TOKEN_URL = "{}/oauth/token"


def query_of(response: requests.Response) -> dict[str, list[str]]:
    return parse_qs(urlparse(response.headers["Location"]).query)


def exchange(sandbox, code: str, **overrides) -> requests.Response:
    body = {
        "grant_type": "authorization_code",
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "code": code,
        "redirect_uri": sandbox.redirect_uri,
        **overrides,
    }
    return requests.post(TOKEN_URL.format(sandbox.url), json=body, timeout=10)


def refresh(sandbox, refresh_token: str, as_form: bool = False) -> requests.Response:
    body = {
        "grant_type": "refresh_token",
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "refresh_token": refresh_token,
    }
    if as_form:
        return requests.post(TOKEN_URL.format(sandbox.url), data=body, timeout=10)
    return requests.post(TOKEN_URL.format(sandbox.url), json=body, timeout=10)


def code_for(sandbox, **consent) -> str:
    sandbox.consent_as(consent.pop("user", sandbox.admin), **consent)
    answer = requests.get(sandbox.authorize_url("s1"), allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return query_of(answer)["code"][0]


def resources(sandbox, access_token: str) -> requests.Response:
    return requests.get(
        f"{sandbox.url}/oauth/token/accessible-resources",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )


def myself(sandbox, access_token: str, site: str = "acme") -> requests.Response:
    return requests.get(
        f"{sandbox.jira_url(site)}/rest/api/3/myself",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )


def test_the_whole_3lo_dance_works_over_http_and_reuse_after_the_interval_revokes_the_grant(
    sandbox,
):
    # 1. authorize: the consent page, then the user accepts for acme.
    page = requests.get(sandbox.authorize_url("csrf-1"), timeout=10)
    assert page.status_code == 200
    assert '<select id="site" name="site">' in page.text
    acme = sandbox.site("acme")
    form = {
        "client_id": sandbox.client_id,
        "redirect_uri": sandbox.redirect_uri,
        "response_type": "code",
        "scope": sandbox.scopes,
        "state": "csrf-1",
        "email": sandbox.admin.email,
        "site": acme.cloud_id,
        "decision": "accept",
    }
    answer = requests.post(f"{sandbox.url}/authorize", data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(sandbox.redirect_uri)
    query = query_of(answer)
    assert query["state"] == ["csrf-1"]

    # 2. code -> tokens
    tokens = exchange(sandbox, query["code"][0]).json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert "offline_access" in tokens["scope"].split()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    # 3. accessible-resources lists acme with its site URL.
    listed = resources(sandbox, tokens["access_token"]).json()
    assert [(r["id"], r["name"], r["url"]) for r in listed] == [(acme.cloud_id, "acme", acme.url)]

    # 4. pages of search/jql
    url = f"{sandbox.url}/ex/jira/{acme.cloud_id}/rest/api/3/search/jql"
    seen, token = [], None
    while True:
        params = {"jql": "project = ALPHA ORDER BY key", "maxResults": 3, "fields": "summary"}
        if token:
            params["nextPageToken"] = token
        page = requests.get(url, params=params, headers=bearer, timeout=10).json()
        assert "total" not in page
        seen += [issue["key"] for issue in page["issues"]]
        if page["isLast"]:
            assert "nextPageToken" not in page
            break
        token = page["nextPageToken"]
    assert len(seen) == 10 and len(set(seen)) == 10

    # 5. refresh rotates the refresh token.
    first = tokens["refresh_token"]
    rotated = refresh(sandbox, first).json()
    assert rotated["refresh_token"] != first

    # 6. the used token still works inside the 10-minute reuse interval...
    sandbox.clock.advance(minutes=9)
    again = refresh(sandbox, first)
    assert again.status_code == 200

    # 7. ...but reusing it after the interval is a breach: the grant is revoked.
    sandbox.clock.advance(minutes=2)
    late = refresh(sandbox, first)
    assert late.status_code == 403
    assert late.json() == {
        "error": "invalid_grant",
        "error_description": "Unknown or invalid refresh token.",
    }
    assert myself(sandbox, again.json()["access_token"]).status_code == 401
    assert refresh(sandbox, again.json()["refresh_token"]).status_code == 403
    assert not sandbox.grant_for(sandbox.admin).active


def test_an_unregistered_redirect_uri_shows_an_error_page_and_does_not_redirect(sandbox):
    url = sandbox.authorize_url(redirect_uri="https://evil.example/callback")
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert "unauthorized_client" in answer.text


def test_a_redirect_uri_must_match_exactly(sandbox):
    url = sandbox.authorize_url(redirect_uri=sandbox.redirect_uri.rstrip("/"))
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 400
    assert "Location" not in answer.headers


def test_an_unknown_client_id_shows_an_error_page(sandbox):
    answer = requests.get(
        sandbox.authorize_url(client_id="nope"), allow_redirects=False, timeout=10
    )
    assert answer.status_code == 400
    assert "Location" not in answer.headers


def test_a_wrong_response_type_or_unknown_scope_redirects_back_with_an_error(sandbox):
    answer = requests.get(
        sandbox.authorize_url("s9", response_type="token"), allow_redirects=False, timeout=10
    )
    assert query_of(answer)["error"] == ["unsupported_response_type"]
    assert query_of(answer)["state"] == ["s9"]
    answer = requests.get(
        sandbox.authorize_url("s9", scope="read:jira-work delete:everything"),
        allow_redirects=False,
        timeout=10,
    )
    assert query_of(answer)["error"] == ["invalid_scope"]


def test_the_consent_page_has_labelled_controls_and_accept_and_deny_buttons(sandbox):
    page = requests.get(sandbox.authorize_url(), timeout=10).text
    assert '<label for="email">' in page and 'id="email" name="email"' in page
    assert '<label for="site">' in page
    for site in sandbox.sites:
        assert f'value="{site.cloud_id}"' in page
    assert '<button type="submit" name="decision" value="accept">Accept</button>' in page
    assert '<button type="submit" name="decision" value="deny">Deny</button>' in page


def test_the_consent_page_lists_only_the_sites_of_a_signed_in_user(sandbox):
    outsider = sandbox.add_user("solo@else.test")
    own = sandbox.add_site("solo", admins=[outsider], issues=2, projects=1)
    page = requests.get(sandbox.authorize_url(login_hint=outsider.email), timeout=10).text
    options = re.findall(r'<option value="([^"]+)">\w', page)
    assert options == [own.cloud_id]


def test_denying_consent_redirects_with_access_denied_and_the_state(sandbox):
    form = {
        "client_id": sandbox.client_id,
        "redirect_uri": sandbox.redirect_uri,
        "response_type": "code",
        "scope": sandbox.scopes,
        "state": "st",
        "decision": "deny",
    }
    answer = requests.post(f"{sandbox.url}/authorize", data=form, allow_redirects=False, timeout=10)
    assert query_of(answer)["error"] == ["access_denied"]
    assert query_of(answer)["state"] == ["st"]


def test_scripted_denial_also_answers_access_denied(sandbox):
    sandbox.consent_as(sandbox.admin, decision="deny")
    answer = requests.get(sandbox.authorize_url("q"), allow_redirects=False, timeout=10)
    assert query_of(answer)["error"] == ["access_denied"]


def test_a_user_cannot_consent_for_a_site_they_cannot_reach(sandbox):
    stranger = sandbox.add_user("stranger@else.test")
    form = {
        "client_id": sandbox.client_id,
        "redirect_uri": sandbox.redirect_uri,
        "response_type": "code",
        "scope": sandbox.scopes,
        "state": "st",
        "email": stranger.email,
        "site": sandbox.site("acme").cloud_id,
        "decision": "accept",
    }
    answer = requests.post(f"{sandbox.url}/authorize", data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 400
    assert "Location" not in answer.headers


def test_codes_are_single_use(sandbox):
    code = code_for(sandbox)
    assert exchange(sandbox, code).status_code == 200
    second = exchange(sandbox, code)
    assert second.status_code == 403
    assert second.json()["error"] == "invalid_grant"


def test_codes_are_short_lived(sandbox):
    code = code_for(sandbox)
    sandbox.clock.advance(minutes=6)
    assert exchange(sandbox, code).json()["error"] == "invalid_grant"


def test_the_exchange_needs_the_client_secret_and_the_same_redirect_uri(sandbox):
    code = code_for(sandbox)
    wrong = exchange(sandbox, code, client_secret="guess")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "access_denied"
    other = exchange(sandbox, code, redirect_uri="http://localhost:8000/connect/callback/")
    assert other.status_code == 403


def test_the_token_endpoint_accepts_form_bodies(sandbox):
    tokens = sandbox.connect()
    answer = refresh(sandbox, tokens.refresh_token, as_form=True)
    assert answer.status_code == 200
    assert answer.json()["refresh_token"] != tokens.refresh_token


def test_an_unknown_refresh_token_gets_atlassians_documented_error(sandbox):
    answer = refresh(sandbox, "made-up")
    assert answer.status_code == 403
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "Unknown or invalid refresh token.",
    }


def test_without_offline_access_there_is_no_refresh_token(sandbox):
    tokens = sandbox.connect(scope="read:jira-work read:me")
    assert tokens.refresh_token is None


def test_a_refresh_token_dies_after_90_days_without_use(sandbox):
    tokens = sandbox.connect()
    sandbox.clock.advance(days=89)
    fresh = refresh(sandbox, tokens.refresh_token).json()["refresh_token"]
    sandbox.clock.advance(days=89)  # each rotation grants another 90 days
    newer = refresh(sandbox, fresh).json()["refresh_token"]
    sandbox.clock.advance(days=91)
    assert refresh(sandbox, newer).json()["error"] == "invalid_grant"


def test_a_token_family_dies_365_days_after_consent_however_often_it_is_refreshed(sandbox):
    token = sandbox.connect().refresh_token
    for _ in range(5):
        sandbox.clock.advance(days=70)
        answer = refresh(sandbox, token)
        assert answer.status_code == 200
        token = answer.json()["refresh_token"]
    sandbox.clock.advance(days=20)  # 370 days after consent
    assert refresh(sandbox, token).json()["error"] == "invalid_grant"


def test_access_tokens_expire_after_an_hour(sandbox):
    tokens = sandbox.connect()
    assert myself(sandbox, tokens.access_token).status_code == 200
    sandbox.clock.advance(minutes=61)
    assert myself(sandbox, tokens.access_token).status_code == 401


def test_a_revoked_grant_fails_refresh_api_calls_and_accessible_resources(sandbox):
    tokens = sandbox.connect()
    sandbox.revoke_grant(sandbox.admin)
    assert refresh(sandbox, tokens.refresh_token).json()["error"] == "invalid_grant"
    assert myself(sandbox, tokens.access_token).status_code == 401
    assert resources(sandbox, tokens.access_token).status_code == 401


def test_one_grant_per_account_each_consent_adds_a_site(sandbox):
    first = sandbox.connect(sites=["acme"])
    second = sandbox.connect(sites=["globex"])
    grant = sandbox.grant_for(sandbox.admin)
    assert len(sandbox.grants) == 1
    assert grant.site_ids == [sandbox.site("acme").cloud_id, sandbox.site("globex").cloud_id]
    # The earlier token reaches the newly consented site too.
    assert myself(sandbox, first.access_token, "globex").status_code == 200
    names = {r["name"] for r in resources(sandbox, second.access_token).json()}
    assert names == {"acme", "globex"}


def test_a_site_not_in_the_grant_is_refused(sandbox):
    tokens = sandbox.connect(sites=["acme"])
    assert myself(sandbox, tokens.access_token, "globex").status_code == 401


def test_a_deleted_site_disappears_from_accessible_resources_and_its_api_answers_404(sandbox):
    tokens = sandbox.connect(sites=["acme", "globex"])
    sandbox.delete_site("globex")
    names = [r["name"] for r in resources(sandbox, tokens.access_token).json()]
    assert names == ["acme"]
    assert myself(sandbox, tokens.access_token, "globex").status_code == 404


def test_me_returns_the_account_profile(sandbox):
    tokens = sandbox.connect()
    profile = requests.get(
        f"{sandbox.url}/me", headers={"Authorization": f"Bearer {tokens.access_token}"}, timeout=10
    ).json()
    assert profile["account_id"] == sandbox.admin.account_id
    assert profile["email"] == "admin@acme.test"
    assert set(profile) >= {"account_id", "email", "name", "picture", "account_status"}


def test_me_needs_the_read_me_scope(sandbox):
    tokens = sandbox.connect(scope="read:jira-work offline_access")
    answer = requests.get(
        f"{sandbox.url}/me", headers={"Authorization": f"Bearer {tokens.access_token}"}, timeout=10
    )
    assert answer.status_code == 401


def test_a_refresh_can_answer_without_a_refresh_token_and_the_old_one_stays_valid(sandbox):
    tokens = sandbox.connect()
    sandbox.faults.omit_refresh_token(1)
    answer = refresh(sandbox, tokens.refresh_token)
    assert answer.status_code == 200 and "refresh_token" not in answer.json()
    sandbox.clock.advance(minutes=30)  # well past the reuse interval: it was never rotated
    assert refresh(sandbox, tokens.refresh_token).status_code == 200


def test_the_token_endpoint_can_be_made_to_fail_without_touching_tokens(sandbox):
    tokens = sandbox.connect()
    sandbox.faults.fail_token_endpoint(2, status=503)
    assert refresh(sandbox, tokens.refresh_token).status_code == 503
    assert refresh(sandbox, tokens.refresh_token).status_code == 503
    assert refresh(sandbox, tokens.refresh_token).status_code == 200


def test_concurrent_refreshes_of_one_token_all_succeed_inside_the_reuse_interval(sandbox):
    from concurrent.futures import ThreadPoolExecutor

    token = sandbox.connect().refresh_token
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: refresh(sandbox, token), range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    assert len({a.json()["refresh_token"] for a in answers}) == 10
    assert sandbox.grant_for(sandbox.admin).active
