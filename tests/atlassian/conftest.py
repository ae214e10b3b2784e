"""Fixtures for the Atlassian client's tests."""

from __future__ import annotations

import random

import pytest

from atlassian.ledger import CallLedger
from atlassian.ratelimit import DbHoldStore, RateLimiter
from atlassian.retry import RetryPolicy
from tests.conftest import require

REDIS_TEST_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture
def redis_client():
    """Redis db 11, flushed before and after. Skips locally without Redis; fails in CI."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        client = None
    require(client is not None, "this test needs Redis at 127.0.0.1:6379")
    client.flushdb()
    yield client
    client.flushdb()


class FakeTime:
    """A clock whose sleep moves time forward instantly, and remembers every sleep."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def fast_retry():
    """Backoff in milliseconds instead of seconds; Retry-After is still honoured in full."""
    return RetryPolicy(base=0.01, cap=0.05, rng=random.Random(7))


@pytest.fixture
def call_ledger():
    """A private ledger that never flushes on its own, so tests can inspect it."""
    return CallLedger(batch_size=10**9, interval_seconds=10**9, budget=lambda: None)


@pytest.fixture
def db_limiter(db):
    return RateLimiter(DbHoldStore(refresh_seconds=0))


@pytest.fixture
def atlassian_settings(settings, sandbox):
    """Point the client at the sandbox (what ATLASSIAN_AUTH_URL/API_URL do in production)."""
    for name, value in sandbox.settings().items():
        setattr(settings, name, value)
    return settings


@pytest.fixture
def client_kwargs(fast_retry, db_limiter, call_ledger):
    """Fast backoff, database rate-limit state, a private ledger."""
    return {"retry": fast_retry, "limiter": db_limiter, "ledger": call_ledger}


@pytest.fixture
def auth_client(atlassian_settings, client_kwargs):
    from atlassian.client import AuthClient

    client = AuthClient(token_retry=RetryPolicy(max_retries=2, base=0.01), **client_kwargs)
    yield client
    client.session.close()


@pytest.fixture
def grant(sandbox):
    """Tokens of a vendor grant by the sandbox admin on site acme."""
    return sandbox.connect(sites=["acme"])


@pytest.fixture
def jira(atlassian_settings, sandbox, grant, client_kwargs):
    """A JiraClient on site acme through the vendor grant."""
    from atlassian.client import JiraClient

    site = sandbox.site("acme")
    client = JiraClient.for_grant(site.cloud_id, lambda: grant.access_token, **client_kwargs)
    yield client
    client.session.close()


@pytest.fixture
def legacy_allowed(settings):
    """Move the legacy cutoff into the future (the default one has passed)."""
    from datetime import UTC, datetime

    settings.LEGACY_CUTOFF = datetime(2099, 1, 1, tzinfo=UTC)
    return settings
