"""A 2xx whose body cannot be read (a proxy's HTML maintenance page, truncated JSON) is a
transient failure: retried when the request may be repeated, then an ``ApiBadResponse`` with a
clear reason; never "no data" handed to the caller (issue 23, item 8)."""

from __future__ import annotations

import pytest

from atlassian.exceptions import ApiBadResponse

pytestmark = pytest.mark.django_db


def _jira_prefix(sandbox, site="acme") -> str:
    return f"/ex/jira/{sandbox.site(site).cloud_id}/rest/api/3/"


@pytest.mark.parametrize("kind", ["html", "truncated"])
def test_a_read_answered_with_an_unreadable_body_is_retried(jira, sandbox, kind):
    sandbox.faults.garble_next_responses(2, kind, path_prefix=_jira_prefix(sandbox))

    assert jira.myself()["accountId"]

    answers = [(r.status, r.reason) for r in sandbox.requests_where(credential="bearer")]
    assert answers == [(200, f"fault:garbled-{kind}")] * 2 + [(200, None)]


def test_a_read_gives_up_with_a_clear_reason_after_the_retries(jira, sandbox):
    sandbox.faults.garble_next_responses(50, "html", path_prefix=_jira_prefix(sandbox))

    with pytest.raises(ApiBadResponse, match="HTML page, not JSON") as refused:
        jira.myself()

    assert refused.value.status == 200
    assert len(sandbox.requests_where(credential="bearer")) == 1 + jira.retry.max_retries


def test_a_write_answered_with_truncated_json_is_not_sent_again(jira, sandbox):
    key = next(iter(jira.projects()))["key"]
    sandbox.faults.garble_next_responses(
        1, "truncated", path_prefix=_jira_prefix(sandbox) + "issue"
    )
    sandbox.state.request_log.clear()
    payload = {"fields": {"project": {"key": key}, "issuetype": {"name": "Task"}, "summary": "x"}}

    with pytest.raises(ApiBadResponse, match="truncated or invalid JSON"):
        jira.create_issue(payload)

    assert len(sandbox.requests_where(method="POST")) == 1
