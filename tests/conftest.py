"""Shared fixtures. With CI=true a test that needs PostgreSQL, Redis or the browser fails instead
of skipping: CI must never pass by running less."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["sandbox.pytest_plugin"]

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip locally when a real component is missing; fail in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def on_postgres(settings):
    from django.db import connection

    require(connection.vendor == "postgresql", "this test needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture(autouse=True)
def _forget_shared_rate_limit_state(settings):
    """Rate-limit holds and points budgets in Redis outlive a test's database rollback: start
    every test from an empty REDIS_URL database (a test-only one in CI)."""
    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).flushdb()
    yield
