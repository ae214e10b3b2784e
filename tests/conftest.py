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


def mfa_client(user, client=None):
    """A test client signed in as ``user``, who set up TOTP and used it in this session (staff
    reach the admin only with MFA: ``portal.middleware.StaffMFARequiredMiddleware``)."""
    import time

    from allauth.mfa.models import Authenticator
    from django.test import Client

    Authenticator.objects.get_or_create(
        user=user, type=Authenticator.Type.TOTP, defaults={"data": {"secret": "x"}}
    )
    client = client or Client()
    client.force_login(user)
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "mfa", "type": "totp", "at": time.time()}
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    client.user = user
    return client


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


@pytest.fixture
def celery_redis_broker(monkeypatch):
    """Point this process's Celery producer at a Redis database of the test's choosing, for tests
    that run a real worker: ``client = celery_redis_broker("redis://127.0.0.1:6379/13")``."""
    import redis

    from portal.celery import app as celery_app

    def forget_connections() -> None:
        # Both the connection pool and the producer pool cache the broker they were made for.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    clients = []

    def use(url: str):
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        try:
            client.ping()
        except redis.RedisError:
            require(False, "this test needs Redis at 127.0.0.1:6379")
        client.flushdb()
        # Celery lets the CELERY_BROKER_URL environment variable (CI sets it) win over its config.
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        forget_connections()
        clients.append(client)
        return client

    yield use
    monkeypatch.undo()
    forget_connections()
    for client in clients:
        client.flushdb()
