"""Transient failures, rate limits and the shared pause, over HTTP against the sandbox.

The sandbox's request log is the record; invariants are checked on it afterwards."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

import pytest

from atlassian.client import JiraClient
from atlassian.exceptions import (
    ApiHostError,
    ApiRateLimited,
    ApiServerError,
    ApiTimeoutError,
)
from atlassian.ratelimit import RateLimiter, RedisHoldStore, tenant_pool
from atlassian.retry import RetryPolicy

pytestmark = pytest.mark.django_db


def _jira_prefix(sandbox, site="acme") -> str:
    return f"/ex/jira/{sandbox.site(site).cloud_id}/rest/api/3/"


def _task(project_key: str) -> dict:
    return {
        "fields": {
            "project": {"key": project_key},
            "issuetype": {"name": "Task"},
            "summary": "x",
        }
    }


def test_a_read_is_retried_after_server_errors(jira, sandbox):
    sandbox.faults.fail_next_requests(2, status=503, path_prefix=_jira_prefix(sandbox))
    assert jira.myself()["accountId"]
    assert [r.status for r in sandbox.requests_where(credential="bearer")] == [503, 503, 200]


def test_a_read_only_post_is_retried_after_server_errors(jira, sandbox):
    key = next(iter(jira.projects()))["key"]
    sandbox.faults.fail_next_requests(1, status=502, path_prefix=_jira_prefix(sandbox) + "search")
    assert list(jira.search_jql(f"project = {key}"))


def test_a_read_gives_up_after_a_bounded_number_of_retries(jira, sandbox):
    sandbox.faults.fail_next_requests(50, status=500, path_prefix=_jira_prefix(sandbox))
    with pytest.raises(ApiServerError):
        jira.myself()
    assert len(sandbox.requests_where(credential="bearer")) == 1 + jira.retry.max_retries


def test_a_write_is_never_retried_after_a_server_error(jira, sandbox):
    key = next(iter(jira.projects()))["key"]
    sandbox.faults.fail_next_requests(1, status=503, path_prefix=_jira_prefix(sandbox) + "issue")
    with pytest.raises(ApiServerError):
        jira.create_issue(_task(key))
    assert len(sandbox.requests_where(method="POST", credential="bearer")) == 1


def test_a_dropped_connection_is_retried_for_reads_only(jira, sandbox, call_ledger):
    key = next(iter(jira.projects()))["key"]
    sandbox.faults.drop_connections(1, path_prefix=_jira_prefix(sandbox) + "myself")
    assert jira.myself()
    sandbox.faults.drop_connections(1, path_prefix=_jira_prefix(sandbox) + "issue")
    with pytest.raises(ApiHostError):
        jira.create_issue(_task(key))
    # Our own ledger is the record of attempts (a dropped request may be logged late).
    attempts = {(k.endpoint_family, k.status_class): v[0] for k, v in call_ledger.pending().items()}
    assert attempts[("myself", "error")] == 1
    assert attempts[("myself", "2xx")] == 1
    assert attempts[("issue", "error")] == 1
    assert ("issue", "2xx") not in attempts


def test_a_slow_answer_times_out_after_a_bounded_number_of_tries(
    atlassian_settings, sandbox, grant, db_limiter, call_ledger
):
    sandbox.faults.slow(1.0, path_prefix=_jira_prefix(sandbox) + "serverInfo")
    client = JiraClient.for_grant(
        sandbox.site("acme").cloud_id,
        lambda: grant.access_token,
        timeout=0.2,
        retry=RetryPolicy(max_retries=1, base=0.01),
        limiter=db_limiter,
        ledger=call_ledger,
    )
    with pytest.raises(ApiTimeoutError):
        client.server_info()
    assert [k.status_class for k in call_ledger.pending()] == ["error"]
    assert list(call_ledger.pending().values()) == [(2, 0)]
    time.sleep(1.0)  # let the sandbox finish the slow answers before the next test resets it


def test_no_request_goes_out_before_its_retry_after(jira, sandbox):
    sandbox.faults.error_rate(
        0.4, statuses=(429,), retry_after=1, seed=3, path_prefix=_jira_prefix(sandbox)
    )
    for _ in range(6):
        assert jira.myself()
    log = [r for r in sandbox.requests_where(credential="bearer") if r.path.endswith("/myself")]
    refused = [i for i, r in enumerate(log) if r.status == 429]
    assert refused, "the seed should produce some 429s"
    for i in refused:
        assert log[i + 1].time - log[i].time >= 1.0


def test_an_exhausted_quota_pauses_the_whole_pool(
    atlassian_settings, sandbox, db_limiter, call_ledger, fast_retry
):
    # Mid-hour on Atlassian's clock, so the reset is far away.
    now = sandbox.clock.now()
    sandbox.clock.set(now.replace(minute=30, second=0, tzinfo=UTC))
    tokens = sandbox.connect(sites=["acme", "globex"])
    sandbox.set_quota(tier1=10)

    def client(site, **kwargs):
        return JiraClient.for_grant(
            sandbox.site(site).cloud_id,
            lambda: tokens.access_token,
            max_wait=5,
            retry=fast_retry,
            limiter=db_limiter,
            ledger=call_ledger,
            **kwargs,
        )

    acme = client("acme")
    with pytest.raises(ApiRateLimited) as caught:
        for _ in range(20):
            acme.myself()
    assert caught.value.is_quota
    assert caught.value.reason == "jira-quota-global-based"
    assert caught.value.pool == "global"
    assert caught.value.retry_after > 60
    sent = len(sandbox.request_log)

    # Another site on the same pool: refused here, nothing sent.
    with pytest.raises(ApiRateLimited) as again:
        client("globex").myself()
    assert again.value.is_quota
    assert len(sandbox.request_log) == sent

    # A Tier 2 tenant has its own pool and goes on.
    sandbox.enable_tier2("globex", 1000)
    assert client("globex", pool=tenant_pool("globex")).myself()


def test_a_quota_pause_is_shared_through_redis(
    atlassian_settings, sandbox, grant, redis_client, call_ledger, fast_retry
):
    def client():
        limiter = RateLimiter(RedisHoldStore(redis_client, prefix="atl-test:"))
        return JiraClient.for_grant(
            sandbox.site("acme").cloud_id,
            lambda: grant.access_token,
            max_wait=5,
            retry=fast_retry,
            limiter=limiter,
            ledger=call_ledger,
        )

    sandbox.clock.set(sandbox.clock.now().replace(minute=30))
    sandbox.set_quota(tier1=5)
    worker_a, worker_b = client(), client()
    with pytest.raises(ApiRateLimited):
        for _ in range(10):
            worker_a.myself()
    sent = len(sandbox.request_log)
    with pytest.raises(ApiRateLimited):
        worker_b.server_info()
    assert len(sandbox.request_log) == sent


def test_writes_to_one_issue_are_spaced_after_a_per_issue_limit(jira, sandbox):
    key = next(iter(jira.projects()))["key"]
    issue = jira.create_issue(_task(key))["key"]
    body = {
        "body": {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "c"}]}],
        }
    }
    for _ in range(23):
        jira.add_comment(issue, body)
    comments = sandbox.requests_where(method="POST", path_prefix=_jira_prefix(sandbox) + "issue/")
    refused = [r for r in comments if r.status == 429]
    assert refused and all(r.reason == "jira-per-issue-on-write" for r in refused)
    assert len([r for r in comments if r.status == 201]) == 23
    # After a refusal, the next write to that issue waited for the window to pass.
    for first, second in itertools.pairwise(comments):
        if first.status == 429:
            assert second.time - first.time >= 1.0


def test_the_wait_policy_raises_instead_of_sleeping_long(jira, sandbox, db_limiter):
    db_limiter.note_429(
        pool="global",
        site=sandbox.site("acme").cloud_id,
        family="myself",
        method="GET",
        issue=None,
        reason="jira-burst-based",
        retry_after=300,
        reset_at=None,
    )
    with pytest.raises(ApiRateLimited) as caught:
        jira.myself()
    assert 290 < caught.value.retry_after <= 300
    assert caught.value.reason == "jira-burst-based"
    assert sandbox.requests_where(credential="bearer") == []
    # Other endpoints of the site are not slowed.
    assert jira.server_info()


def test_a_short_hold_is_slept_through(jira, sandbox, db_limiter):
    db_limiter.note_429(
        pool="global",
        site=sandbox.site("acme").cloud_id,
        family="myself",
        method="GET",
        issue=None,
        reason="jira-burst-based",
        retry_after=1,
        reset_at=None,
    )
    started = datetime.now(UTC)
    assert jira.myself()
    assert (datetime.now(UTC) - started).total_seconds() >= 0.9
