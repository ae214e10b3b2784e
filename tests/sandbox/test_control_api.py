"""The /_sandbox/ control API lets another process drive the same state."""

from __future__ import annotations

import requests


def control(sandbox, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{sandbox.url}/_sandbox/{path}", timeout=10, **kwargs)


def test_the_state_summary_lists_sites_users_and_settings(sandbox):
    summary = control(sandbox, "GET", "state").json()
    assert [s["name"] for s in summary["sites"]] == ["acme", "globex"]
    assert summary["sites"][0]["url"] == f"{sandbox.url}/site/acme"
    assert summary["rate_limits_enabled"] is True


def test_the_clock_advances_over_http(sandbox):
    before = sandbox.clock.time()
    control(sandbox, "POST", "clock/advance", json={"days": 90})
    assert sandbox.clock.time() - before >= 90 * 86400
    control(sandbox, "POST", "clock/advance", json={"to_next_hour": True})
    assert int(sandbox.clock.time()) % 3600 == 0


def test_consent_can_be_scripted_over_http(sandbox):
    control(sandbox, "POST", "consent", json={"email": "admin@acme.test", "sites": ["globex"]})
    answer = requests.get(sandbox.authorize_url("z"), allow_redirects=False, timeout=10)
    assert "code=" in answer.headers["Location"]
    assert sandbox.grant_for(sandbox.admin).site_ids == [sandbox.site("globex").cloud_id]
    control(sandbox, "POST", "consent", json={"auto": False})
    assert (
        requests.get(sandbox.authorize_url("z"), allow_redirects=False, timeout=10).status_code
        == 200
    )


def test_faults_rate_limits_and_logs_over_http(sandbox):
    control(sandbox, "POST", "faults", json={"fail_token_endpoint": {"n": 1, "status": 503}})
    assert requests.post(f"{sandbox.url}/oauth/token", json={}, timeout=10).status_code == 503
    control(sandbox, "POST", "faults/clear")
    control(sandbox, "POST", "rate-limits", json={"enabled": False, "tier1": 5})
    assert sandbox.rate_limits_enabled is False and sandbox.limiter.tier1_quota == 5
    log = control(sandbox, "GET", "request-log", params={"path_prefix": "/oauth"}).json()
    assert log[0]["status"] == 503 and log[0]["credential"] == "none"
    ledger = control(sandbox, "GET", "ledger").json()
    assert ledger["points"] == 0


def test_grants_sites_and_data_change_over_http(sandbox):
    tokens = sandbox.connect()
    control(sandbox, "POST", "grants/revoke", json={"email": "admin@acme.test"})
    assert not sandbox.grant_for(sandbox.admin).active
    assert tokens.access_token
    control(sandbox, "POST", "sites", json={"name": "initech", "projects": 1, "issues": 3})
    assert sandbox.site("initech").summary()["issues"] == 3
    user = control(
        sandbox,
        "POST",
        "users",
        json={"email": "x@initech.test", "admin_of": ["initech"], "api_token": True},
    ).json()
    assert user["api_token"] in sandbox.api_tokens
    changed = control(
        sandbox, "POST", "mutate", json={"fraction": 0.1, "delete": 1, "site": "acme", "seed": 1}
    ).json()
    assert len(changed["acme"]["updated"]) == 2 and len(changed["acme"]["deleted"]) == 1
    control(sandbox, "POST", "sites/delete", json={"site": "initech"})
    assert sandbox.site("initech").deleted


def test_unknown_control_endpoints_list_the_known_ones(sandbox):
    answer = control(sandbox, "GET", "nope")
    assert answer.status_code == 404
    assert "POST /_sandbox/clock/advance" in answer.json()["endpoints"]


def test_reset_rebuilds_the_world(sandbox):
    sandbox.add_site("extra", issues=1, projects=1)
    control(sandbox, "POST", "reset", json={"seed": "test", "projects": 1, "issues": 4})
    assert [s.name for s in sandbox.sites] == ["acme", "globex"]
    assert sandbox.site("acme").summary()["issues"] == 4


def test_sites_are_created_and_reset_with_features(sandbox):
    answer = requests.post(
        f"{sandbox.url}/_sandbox/sites",
        json={"name": "initech", "projects": 2, "issues": 40, "features": "all"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.json()["features"] == ["agile", "hierarchy", "media", "workflows"]
    assert sandbox.site("initech").boards and sandbox.site("acme").features == frozenset()
    bad = requests.post(
        f"{sandbox.url}/_sandbox/sites", json={"name": "x", "features": ["sprints"]}, timeout=10
    )
    assert bad.status_code == 400 and "sprints" in bad.json()["error"]
    reset = requests.post(
        f"{sandbox.url}/_sandbox/reset", json={"features": ["workflows", "hierarchy"]}, timeout=10
    ).json()
    assert {tuple(s["features"]) for s in reset["sites"]} == {("hierarchy", "workflows")}
