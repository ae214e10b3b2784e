"""``seed_demo`` against the sandbox over HTTP: every migration state, every grant health state,
real snapshots; a second run adds nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import TestCase

from backups.models import Snapshot
from tenants.models import MigrationCase, OAuthGrant, Tenant

TEST_REDIRECT_URI = "http://testserver/connect/callback/"


@pytest.fixture
def demo_sandbox(backup_env, settings):
    app = backup_env.state.clients[backup_env.client_id]
    if TEST_REDIRECT_URI not in app.redirect_uris:
        app.redirect_uris.append(TEST_REDIRECT_URI)
    settings.ATLASSIAN_REDIRECT_URI = TEST_REDIRECT_URI
    return backup_env


def seed(sandbox) -> str:
    out = io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("seed_demo", "--sandbox-url", sandbox.url, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_seed_demo_builds_every_state_through_the_real_flows_once(demo_sandbox):
    output = seed(demo_sandbox)
    assert "demo seeded" in output
    states = set(MigrationCase.objects.values_list("state", flat=True))
    assert states == {
        "pending",
        "invited",
        "invite_expired",
        "failed",
        "exempt",
        "consented",
        "verified",
        "cut_over",
        "completed",
    }
    assert set(OAuthGrant.objects.values_list("status", flat=True)) >= {
        "active",
        "needs_reauth",
        "revoked",
    }
    assert Snapshot.objects.filter(site__tenant__slug="demo-acme").count() == 2
    # The grants came from the sandbox's token endpoint, through the connect flow.
    assert demo_sandbox.state.requests_where(path="/oauth/token")

    counts = (Tenant.objects.count(), MigrationCase.objects.count(), Snapshot.objects.count())
    seed(demo_sandbox)
    assert (
        Tenant.objects.count(),
        MigrationCase.objects.count(),
        Snapshot.objects.count(),
    ) == counts


@pytest.mark.django_db
def test_seed_demo_fails_with_exit_1_when_the_sandbox_is_not_there():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as raised:
        call_command(
            "seed_demo",
            "--sandbox-url",
            "http://127.0.0.1:9",
            "--wait",
            "0.5",
            stdout=io.StringIO(),
        )
    assert raised.value.returncode == 1 and "sandbox" in str(raised.value)
