"""Fault injection and the request log."""

from __future__ import annotations

import time

import pytest
import requests


def test_an_error_rate_is_seeded_and_repeatable(connected):
    def run() -> list[int]:
        connected.sandbox.faults.clear()
        connected.sandbox.faults.error_rate(0.3, statuses=(429, 503), seed=7)
        return [connected.get("myself").status_code for _ in range(30)]

    first, second = run(), run()
    assert first == second
    assert {429, 503, 200} <= set(first)
    assert 3 < sum(s != 200 for s in first) < 20


def test_a_faulted_429_carries_retry_after(connected):
    connected.sandbox.faults.error_rate(1.0, statuses=(429,), retry_after=3)
    answer = connected.get("myself")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "3"


def test_faults_can_target_a_path_prefix(connected):
    connected.sandbox.faults.error_rate(1.0, statuses=(500,), path_prefix="/oauth/")
    assert connected.get("myself").status_code == 200


def test_slow_responses(connected):
    connected.sandbox.faults.slow(0.3)
    started = time.monotonic()
    connected.get("myself")
    assert time.monotonic() - started >= 0.3


def test_dropped_connections_send_nothing(connected):
    connected.sandbox.faults.drop_connections(1)
    with pytest.raises(requests.ConnectionError):
        connected.get("myself")
    assert connected.get("myself").status_code == 200
    assert connected.sandbox.request_log.where(status=0)[0].reason == "fault:dropped"


def test_fail_next_requests(connected):
    connected.sandbox.faults.fail_next_requests(1, status=502)
    assert connected.get("myself").status_code == 502
    assert connected.get("myself").status_code == 200


def test_the_request_log_records_credentials_sites_status_and_points(connected, basic):
    sandbox = connected.sandbox
    sandbox.request_log.clear()
    connected.get("issue/ALPHA-1")
    basic.get(f"{sandbox.site('acme').url}/rest/api/3/myself", timeout=10)
    requests.get(f"{sandbox.url}/oauth/token/accessible-resources", timeout=10)
    bearer, legacy, anonymous = sandbox.request_log.records
    assert (bearer.credential, bearer.status, bearer.points) == ("bearer", 200, 2)
    assert bearer.site_cloud_id == sandbox.site("acme").cloud_id
    assert bearer.client_id == sandbox.client_id
    assert bearer.path.endswith("/rest/api/3/issue/ALPHA-1")
    assert legacy.credential == "basic" and legacy.account_id == sandbox.admin.account_id
    assert anonymous.credential == "none" and anonymous.status == 401
    assert sandbox.requests_where(credential="basic") == [legacy]
    assert bearer.time <= legacy.time


def test_the_3lo_flow_never_uses_basic_auth(sandbox):
    sandbox.connect()
    assert sandbox.requests_where(credential="basic") == []
