from atlassian.exceptions import ApiBadRequest, ApiRateLimited, AtlassianError
from atlassian.types import AccessibleResource, TokenResponse


def test_a_token_response_without_a_refresh_token_says_keep_the_old_one():
    tokens = TokenResponse.from_json(
        {"access_token": "a", "expires_in": 3600, "scope": "read:me", "token_type": "Bearer"}
    )
    assert tokens.refresh_token is None
    assert tokens.scopes == {"read:me"}


def test_secrets_are_not_in_a_token_responses_repr():
    tokens = TokenResponse.from_json(
        {"access_token": "secret-a", "refresh_token": "secret-r", "expires_in": 1, "scope": ""}
    )
    assert "secret" not in repr(tokens)


def test_a_resource_tells_jira_from_confluence_by_its_scopes():
    jira = AccessibleResource.from_json(
        {"id": "c", "name": "x", "url": "https://x.atlassian.net/", "scopes": ["read:jira-work"]}
    )
    confluence = AccessibleResource.from_json(
        {"id": "c", "name": "x", "url": "https://x.atlassian.net", "scopes": ["read:confluence"]}
    )
    assert jira.is_jira and not confluence.is_jira
    assert jira.url == "https://x.atlassian.net"


def test_exceptions_carry_status_endpoint_and_a_bounded_message():
    error = ApiBadRequest(
        "x" * 2000,
        status=400,
        endpoint="search/jql",
        method="POST",
        error_messages=["bad"],
        errors={"jql": "bad"},
    )
    assert isinstance(error, AtlassianError)
    assert len(error.message) == 500
    assert "(POST search/jql)" in str(error) and "[400]" in str(error)


def test_a_rate_limit_knows_whether_it_is_a_quota():
    assert ApiRateLimited("q", retry_after=10, reason="jira-quota-global-based").is_quota
    assert not ApiRateLimited("b", retry_after=1, reason="jira-burst-based").is_quota
