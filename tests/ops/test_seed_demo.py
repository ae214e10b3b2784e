"""``seed_demo`` against the sandbox over HTTP: every migration state, every grant health state,
real snapshots; a second run adds nothing."""

from __future__ import annotations

import io
import re
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from backups.models import BackupSchedule, Snapshot
from tenants.models import JiraSite, MigrationCase, OAuthGrant, Tenant
from tenants.selectors import grant_for_site
from tenants.services.campaigns import read_invite_token

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
    with tempfile.TemporaryDirectory() as folder, TestCase.captureOnCommitCallbacks(execute=True):
        log_file = str(Path(folder) / "seed-demo.log")
        call_command("seed_demo", "--sandbox-url", sandbox.url, "--log-file", log_file, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_seed_demo_builds_every_state_through_the_real_flows_once(demo_sandbox, settings):
    settings.LEGACY_CUTOFF = timezone.now() + timedelta(days=60)
    output = seed(demo_sandbox)
    assert "demo seeded" in output
    # The way in names the customer journey: the waiting invitation and who to be on Atlassian.
    hooli = MigrationCase.objects.get(site__tenant__slug="demo-hooli")
    token = re.search(r"/migrate/invite/(\S+)/", output).group(1)
    assert read_invite_token(token) == (hooli.pk, "it@hooli.example.com")
    assert "admin@hooli.test" in output
    states = set(MigrationCase.objects.values_list("state", flat=True))
    assert states == {
        "pending",
        "invited",
        "invite_expired",
        "failed",
        "exempt",
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


@pytest.mark.django_db(transaction=True)
def test_the_seeded_demo_tells_one_story(demo_sandbox, settings):
    """Before the cutoff: cases waiting for the customer are still on the legacy credential, every
    schedule has its next run, e-mails count the days left, the consent page is a person's."""
    settings.LEGACY_CUTOFF = timezone.now() + timedelta(days=60)
    mail.outbox.clear()
    seed(demo_sandbox)

    # Verified in the wizard, not cut over: the site still uses the legacy credential.
    for case in MigrationCase.objects.select_related("site").filter(state__in=["verified"]):
        assert case.site.grant_id is None and case.site.legacy_credential_id is not None, case
        assert grant_for_site(site=case.site) is not None  # the consent is stored, waiting
    for case in MigrationCase.objects.select_related("site").filter(
        state__in=["cut_over", "completed"]
    ):
        assert case.site.grant_id is not None and case.site.legacy_credential_id is None, case
    waiting = MigrationCase.objects.exclude(state__in=["cut_over", "completed", "exempt"])
    assert all(case.due_at <= settings.LEGACY_CUTOFF for case in waiting)
    assert set(JiraSite.objects.values_list("status", flat=True)) <= {"active", "needs_reauth"}
    schedules = BackupSchedule.objects.all()
    assert schedules and all(s.next_run_at is not None for s in schedules)
    invitations = [m for m in mail.outbox if "/migrate/invite/" in m.body]
    assert invitations and all("days left" in m.body for m in invitations)
    # Seeding answered the consent page by script; now it is a person's again.
    assert demo_sandbox.state.consent.auto is False


@pytest.mark.django_db(transaction=True)
def test_after_the_cutoff_the_demo_shows_legacy_sites_paused_and_mails_past_due(
    demo_sandbox, settings
):
    settings.LEGACY_CUTOFF = timezone.now() - timedelta(days=30)
    mail.outbox.clear()
    seed(demo_sandbox)

    legacy = JiraSite.objects.filter(legacy_credential__isnull=False, grant__isnull=True)
    assert legacy.exists()
    assert set(legacy.values_list("status", flat=True)) == {"needs_reauth"}
    assert all(
        "re-authorization required" in reason
        for reason in legacy.values_list("status_reason", flat=True)
    )
    assert all(
        case.due_at <= settings.LEGACY_CUTOFF
        for case in MigrationCase.objects.exclude(state__in=["cut_over", "completed", "exempt"])
    )
    invitations = [m for m in mail.outbox if "/migrate/invite/" in m.body]
    assert invitations
    assert not any("days left" in m.body for m in invitations)
    assert all("past due" in m.body for m in invitations)
    # The migrated ones are on the vendor app and live.
    migrated = JiraSite.objects.filter(
        grant__isnull=False, tenant__slug__in=["demo-oscorp", "demo-aperture"]
    )
    assert set(migrated.values_list("status", flat=True)) == {"active"}
    assert demo_sandbox.state.consent.auto is False


@pytest.mark.django_db(transaction=True)
def test_after_the_sandbox_restarts_the_journey_still_finds_its_site(demo_sandbox, settings):
    settings.LEGACY_CUTOFF = timezone.now() + timedelta(days=60)
    seed(demo_sandbox)
    hooli = JiraSite.objects.get(tenant__slug="demo-hooli")
    demo_sandbox.state.reset()  # a new `make run`: the sandbox starts from its seed again
    assert hooli.cloud_id not in {s.cloud_id for s in demo_sandbox.state.sites.values()}

    seed(demo_sandbox)

    site = demo_sandbox.state.site(hooli.cloud_id)
    assert site.name == hooli.name
    admin = demo_sandbox.state.user("admin@hooli.test")
    assert site in demo_sandbox.state.sites_for(admin)
    assert demo_sandbox.state.consent.auto is False


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
