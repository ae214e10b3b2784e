from datetime import UTC, datetime

import pytest

from atlassian.ratelimit import (
    DbHoldStore,
    PointsBudget,
    RateLimiter,
    RedisHoldStore,
    hour_start,
)

HOUR = datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.fixture(params=["db", "redis"])
def store(request):
    if request.param == "db":
        request.getfixturevalue("db")
        return DbHoldStore(refresh_seconds=0)
    return RedisHoldStore(request.getfixturevalue("redis_client"), prefix="atl-test:")


@pytest.fixture(params=["db", "redis"])
def budget(request):
    if request.param == "db":
        request.getfixturevalue("db")
        return PointsBudget(limit_for=lambda pool: 100)
    client = request.getfixturevalue("redis_client")
    return PointsBudget(client, limit_for=lambda pool: 100, prefix="atl-test:")


def _limiter(store, fake_time):
    return RateLimiter(store, clock=fake_time)


def test_a_quota_429_pauses_every_request_of_the_pool(store, fake_time):
    limiter = _limiter(store, fake_time)
    reset = fake_time.now + 1800
    hold = limiter.note_429(
        pool="global",
        site="cloud-a",
        family="search/jql",
        method="POST",
        issue=None,
        reason="jira-quota-global-based",
        retry_after=1800,
        reset_at=reset,
    )
    assert hold.key == "pool:global"
    wait, found = limiter.wait_before(pool="global", site="cloud-b", family="myself", method="GET")
    assert wait == pytest.approx(1800)
    assert found.reason == "jira-quota-global-based"
    # Another pool (a Tier 2 tenant) is not affected.
    assert limiter.wait_before(pool="tenant:9", site="cloud-c", family="myself", method="GET")[
        0
    ] == pytest.approx(0)


def test_the_reset_time_wins_when_it_is_later_than_retry_after(store, fake_time):
    limiter = _limiter(store, fake_time)
    limiter.note_429(
        pool="global",
        site="c",
        family="x",
        method="GET",
        issue=None,
        reason="jira-quota-tenant-based",
        retry_after=10,
        reset_at=fake_time.now + 600,
    )
    assert limiter.wait_before(pool="global", site="c", family="x", method="GET")[
        0
    ] == pytest.approx(600)


def test_a_burst_429_slows_only_that_endpoint_of_that_site(store, fake_time):
    limiter = _limiter(store, fake_time)
    limiter.note_429(
        pool="global",
        site="cloud-a",
        family="issue/{key}",
        method="GET",
        issue=None,
        reason="jira-burst-based",
        retry_after=3,
        reset_at=None,
    )
    assert limiter.wait_before(pool="global", site="cloud-a", family="issue/{key}", method="GET")[
        0
    ] == pytest.approx(3)
    assert limiter.wait_before(pool="global", site="cloud-a", family="field", method="GET")[0] == 0
    assert (
        limiter.wait_before(pool="global", site="cloud-b", family="issue/{key}", method="GET")[0]
        == 0
    )


def test_a_per_issue_429_spaces_writes_to_that_issue_only(store, fake_time):
    limiter = _limiter(store, fake_time)
    limiter.note_429(
        pool="global",
        site="cloud-a",
        family="issue/{key}/comment",
        method="POST",
        issue="PRJ-1",
        reason="jira-per-issue-on-write",
        retry_after=2,
        reset_at=None,
    )
    write = dict(pool="global", site="cloud-a", method="POST", family="issue/{key}/worklog")
    assert limiter.wait_before(issue="PRJ-1", **write)[0] == pytest.approx(2)
    assert limiter.wait_before(issue="PRJ-2", **write)[0] == 0
    read = dict(pool="global", site="cloud-a", method="GET", family="issue/{key}")
    assert limiter.wait_before(issue="PRJ-1", **read)[0] == 0


def test_holds_expire_and_are_never_shortened(store, fake_time):
    limiter = _limiter(store, fake_time)
    args = dict(pool="global", site="s", family="f", method="GET", issue=None, reset_at=None)
    limiter.note_429(reason="jira-burst-based", retry_after=10, **args)
    limiter.note_429(reason="jira-burst-based", retry_after=2, **args)
    check = dict(pool="global", site="s", family="f", method="GET")
    assert limiter.wait_before(**check)[0] == pytest.approx(10)
    fake_time.sleep(10.5)
    assert limiter.wait_before(**check) == (0.0, None)


def test_holds_are_shared_between_limiters(store, fake_time):
    RateLimiter(store, clock=fake_time).note_429(
        pool="global",
        site="s",
        family="f",
        method="GET",
        issue=None,
        reason="jira-quota-global-based",
        retry_after=30,
        reset_at=None,
    )
    other = RateLimiter(type(store)(**_same_backend(store)), clock=fake_time)
    assert other.wait_before(pool="global", site="t", family="g", method="GET")[0] == pytest.approx(
        30
    )


def _same_backend(store):
    if isinstance(store, RedisHoldStore):
        return {"client": store.redis, "prefix": store.prefix}
    return {"refresh_seconds": 0}


def test_try_spend_reserves_only_within_the_hourly_limit(budget):
    assert budget.try_spend("global", 60, hour=HOUR)
    assert not budget.try_spend("global", 41, hour=HOUR)
    assert budget.try_spend("global", 40, hour=HOUR)
    assert not budget.try_spend("global", 1, hour=HOUR)
    assert budget.remaining("global", hour=HOUR) == 0
    # Pools and hours are independent.
    assert budget.try_spend("tenant:1", 100, hour=HOUR)
    assert budget.try_spend("global", 100, hour=hour_start(HOUR.timestamp() + 3600))


def test_remaining_takes_the_larger_of_reserved_and_spent(budget):
    budget.try_spend("global", 30, hour=HOUR)
    budget.record_spent("global", 20, hour=HOUR)
    assert budget.usage("global", hour=HOUR) == (30, 20)
    assert budget.remaining("global", hour=HOUR) == 70
    budget.record_spent("global", 25, hour=HOUR)
    assert budget.remaining("global", hour=HOUR) == 55


@pytest.mark.django_db(transaction=True)
def test_try_spend_is_atomic_under_concurrency_on_the_database(on_postgres):
    import threading

    from django.db import connection

    budget = PointsBudget(limit_for=lambda pool: 50)
    results = []

    def spend():
        try:
            for _ in range(10):
                results.append(budget.try_spend("global", 1, hour=HOUR))
        finally:
            connection.close()

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 50
    assert budget.usage("global", hour=HOUR) == (50, 0)


def test_try_spend_is_atomic_under_concurrency_on_redis(redis_client):
    import threading

    budget = PointsBudget(redis_client, limit_for=lambda pool: 50, prefix="atl-test:")
    results = []

    def spend():
        for _ in range(10):
            results.append(budget.try_spend("global", 1, hour=HOUR))

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 50
