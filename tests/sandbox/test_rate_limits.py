"""Points, the hourly quota pools, burst buckets and per-issue write limits."""

from __future__ import annotations

import requests

from sandbox.ratelimit import GLOBAL_POOL, TENANT_POOL


def test_get_issue_costs_2_points(connected):
    connected.sandbox.ledger.clear()
    assert connected.get("issue/ALPHA-1").status_code == 200
    assert connected.sandbox.ledger.points(pool=GLOBAL_POOL, site="acme") == 2
    assert connected.sandbox.request_log[-1].points == 2


def test_a_call_returning_8_users_costs_17_points(connected):
    connected.sandbox.ledger.clear()
    users = connected.get("users/search", params={"maxResults": 8}).json()
    assert len(users) == 8
    assert connected.sandbox.ledger.points(site="acme") == 17


def test_writes_cost_1_point_and_searches_cost_1_plus_1_per_issue(connected):
    ledger = connected.sandbox.ledger
    ledger.clear()
    connected.put("issue/ALPHA-1/properties/x", json=1)
    assert ledger.points() == 1
    connected.get("search/jql", params={"jql": "project = ALPHA", "maxResults": 4})
    assert ledger.points() == 1 + 1 + 4


def test_the_ledger_is_kept_per_site_and_hour(connected):
    sandbox = connected.sandbox
    sandbox.ledger.clear()
    connected.get("issue/ALPHA-1")
    this_hour = sandbox.clock.now()
    sandbox.clock.to_next_hour()
    connected.get("issue/ALPHA-1")
    assert sandbox.ledger.points(hour=this_hour) == 2
    assert sandbox.ledger.points(hour=sandbox.clock.now()) == 2
    assert sandbox.ledger.points(site="globex") == 0


def test_an_exhausted_tier1_quota_refuses_every_site_until_the_top_of_the_hour(sandbox):
    tokens = sandbox.connect(sites=["acme", "globex"])
    headers = {"Authorization": f"Bearer {tokens.access_token}"}
    sandbox.set_quota(tier1=10)
    acme = f"{sandbox.jira_url('acme')}/rest/api/3/issue/ALPHA-1"
    globex = f"{sandbox.jira_url('globex')}/rest/api/3/issue/ALPHA-1"
    for _ in range(5):
        assert requests.get(acme, headers=headers, timeout=10).status_code == 200
    refused = requests.get(globex, headers=headers, timeout=10)
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Reason"] == "jira-quota-global-based"
    assert refused.headers["X-RateLimit-Limit"] == "10"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Reset"].endswith("Z")
    retry_after = int(refused.headers["Retry-After"])
    assert 0 < retry_after <= 3600
    sandbox.clock.advance(seconds=retry_after - 5)
    assert requests.get(acme, headers=headers, timeout=10).status_code == 429
    sandbox.clock.to_next_hour()
    assert requests.get(acme, headers=headers, timeout=10).status_code == 200


def test_the_near_limit_header_appears_under_20_percent_left(connected):
    connected.sandbox.set_quota(tier1=20)
    first = connected.get("issue/ALPHA-1")
    assert "X-RateLimit-NearLimit" not in first.headers
    assert first.headers["RateLimit-Policy"] == '"global-app-quota";q=20;w=3600'
    for _ in range(7):
        answer = connected.get("issue/ALPHA-1")
    assert answer.headers["X-RateLimit-Remaining"] == "4"  # exactly 20 % left
    assert "X-RateLimit-NearLimit" not in answer.headers
    answer = connected.get("issue/ALPHA-1")
    assert answer.headers["X-RateLimit-NearLimit"] == "true"


def test_a_tier2_site_has_its_own_pool(sandbox):
    tokens = sandbox.connect(sites=["acme", "globex"])
    headers = {"Authorization": f"Bearer {tokens.access_token}"}
    sandbox.set_quota(tier1=4)
    sandbox.enable_tier2("globex", 100)
    acme = f"{sandbox.jira_url('acme')}/rest/api/3/issue/ALPHA-1"
    globex = f"{sandbox.jira_url('globex')}/rest/api/3/issue/ALPHA-1"
    requests.get(acme, headers=headers, timeout=10)
    requests.get(acme, headers=headers, timeout=10)
    assert requests.get(acme, headers=headers, timeout=10).status_code == 429
    assert requests.get(globex, headers=headers, timeout=10).status_code == 200
    assert sandbox.ledger.points(pool=TENANT_POOL, site="globex") == 2
    sandbox.set_quota(tier1=100)
    sandbox.enable_tier2("globex", 2)
    refused = requests.get(globex, headers=headers, timeout=10)
    assert refused.headers["RateLimit-Reason"] == "jira-quota-tenant-based"


def test_rate_limits_can_be_switched_off(connected):
    connected.sandbox.set_quota(tier1=1)
    connected.sandbox.rate_limits_enabled = False
    for _ in range(3):
        assert connected.get("issue/ALPHA-1").status_code == 200


def test_a_burst_bucket_refuses_requests_beyond_its_rate(connected):
    connected.sandbox.clock.freeze()
    connected.sandbox.set_quota(burst={"GET": 5})
    statuses = [connected.get("myself").status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    refused = connected.get("myself")
    assert refused.headers["RateLimit-Reason"] == "jira-burst-based"
    assert refused.headers["Retry-After"] == "1"
    # Other endpoints have their own bucket; time refills this one.
    assert connected.get("serverInfo").status_code == 200
    connected.sandbox.clock.advance(seconds=1)
    assert connected.get("myself").status_code == 200


def test_writes_to_one_issue_are_limited_to_20_per_2_seconds(connected):
    connected.sandbox.clock.freeze()
    statuses = [
        connected.put(f"issue/ALPHA-1/properties/p{n}", json=n).status_code for n in range(21)
    ]
    assert statuses[:20] == [201] * 20
    assert statuses[20] == 429
    refused = connected.put("issue/ALPHA-1/properties/again", json=1)
    assert refused.headers["RateLimit-Reason"] == "jira-per-issue-on-write"
    assert connected.put("issue/ALPHA-2/properties/other", json=1).status_code == 201
    connected.sandbox.clock.advance(seconds=2)
    assert connected.put("issue/ALPHA-1/properties/later", json=1).status_code == 201


def test_writes_to_one_issue_are_limited_to_100_per_30_seconds(connected):
    connected.sandbox.clock.freeze()
    done = 0
    for n in range(6):
        for m in range(20):
            status = connected.put(f"issue/ALPHA-1/properties/p{n}-{m}", json=1).status_code
            done += status in (200, 201)
        connected.sandbox.clock.advance(seconds=2.1)
    assert done == 100


def test_basic_auth_requests_go_to_the_api_token_pool_and_are_not_quota_limited(sandbox, basic):
    sandbox.set_quota(tier1=1)
    for _ in range(3):
        answer = basic.get(f"{sandbox.site('acme').url}/rest/api/3/issue/ALPHA-1", timeout=10)
        assert answer.status_code == 200
    assert sandbox.ledger.points(pool="api-token") == 6


def _policy_answers(connected) -> list[requests.Response]:
    """One answer of every kind: success, 400, 404 (issue and unknown path), 401 (scope), the
    agile API, and both kinds of 429 that are not about the quota."""
    sandbox = connected.sandbox
    answers = [
        connected.get("issue/ALPHA-1"),
        connected.get("search/jql", params={"jql": ""}),
        connected.get("issue/ALPHA-999"),
        connected.get("no/such/endpoint"),
        connected.agile_get("board"),  # the portal's scopes do not open Jira Software
    ]
    sandbox.clock.freeze()
    sandbox.set_quota(burst={"GET": 1})
    connected.get("myself")
    answers.append(connected.get("myself"))
    for n in range(21):
        last = connected.put(f"issue/ALPHA-2/properties/p{n}", json=n)
    answers.append(last)
    return answers


def test_every_answer_names_the_global_pool_on_tier1(connected):
    answers = _policy_answers(connected)
    assert [a.status_code for a in answers] == [200, 400, 404, 404, 401, 429, 429]
    for answer in answers:
        assert answer.headers["RateLimit-Policy"] == '"global-app-quota";q=65000;w=3600'
        assert answer.headers["RateLimit"].startswith('"global-app-quota";r=')
    assert answers[5].headers["RateLimit-Reason"] == "jira-burst-based"
    assert answers[6].headers["RateLimit-Reason"] == "jira-per-issue-on-write"


def test_every_answer_names_the_tenant_pool_on_a_tier2_site(connected):
    sandbox = connected.sandbox
    switched = requests.post(
        f"{sandbox.url}/_sandbox/rate-limits", json={"tier2": {"acme": 120000}}, timeout=10
    )
    assert switched.json()["tier2"] == {sandbox.site("acme").cloud_id: 120000}
    for answer in _policy_answers(connected):
        assert answer.headers["RateLimit-Policy"] == '"tenant-app-quota";q=120000;w=3600'
    sandbox.clock.unfreeze()
    sandbox.set_quota(burst={"GET": 100})
    sandbox.enable_tier2("acme", 1)
    refused = connected.get("issue/ALPHA-1")
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Reason"] == "jira-quota-tenant-based"
    assert refused.headers["RateLimit-Policy"] == '"tenant-app-quota";q=1;w=3600'
    requests.post(f"{sandbox.url}/_sandbox/rate-limits", json={"tier2": {"acme": None}}, timeout=10)
    back = connected.get("issue/ALPHA-1")
    assert back.status_code == 200
    assert back.headers["RateLimit-Policy"] == '"global-app-quota";q=65000;w=3600'


def test_tier2_by_plan_and_users_and_beta_headers_while_quotas_are_not_enforced(connected):
    sandbox = connected.sandbox
    switched = requests.post(
        f"{sandbox.url}/_sandbox/rate-limits",
        json={"tier2": {"acme": {"plan": "premium", "users": 800}}, "quota_enforced": False},
        timeout=10,
    )
    # Atlassian's formula: Premium 130,000 + 20 x users.
    assert switched.json()["tier2"] == {sandbox.site("acme").cloud_id: 146000}
    sandbox.enable_tier2("acme", 1)  # would refuse at once if it were enforced
    for _ in range(3):
        answer = connected.get("issue/ALPHA-1")
        assert answer.status_code == 200
        assert answer.headers["Beta-RateLimit-Policy"] == '"tenant-app-quota";q=1;w=3600'
        assert answer.headers["Beta-RateLimit"].startswith('"tenant-app-quota";r=0;t=')
        assert "RateLimit-Policy" not in answer.headers
    sandbox.limiter.quota_enforced = True
    refused = connected.get("issue/ALPHA-1")
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Policy"] == '"tenant-app-quota";q=1;w=3600'
    # Enterprise with many users stops at the 500,000 cap.
    capped = requests.post(
        f"{sandbox.url}/_sandbox/rate-limits",
        json={"tier2": {"acme": {"plan": "enterprise", "users": 20000}}},
        timeout=10,
    )
    assert capped.json()["tier2"] == {sandbox.site("acme").cloud_id: 500000}
