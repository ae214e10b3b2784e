"""Cutoff enforcement: after LEGACY_CUTOFF no legacy credential reaches Atlassian (zero Basic
requests), backups of legacy sites pause with their reason, and brownout windows refuse legacy
use early. Before the cutoff a legacy backup works with Basic auth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from backups.models import BackupJob
from backups.services import backup_job_enqueue
from tenants.brownouts import active_brownout, brownout_hook, brownout_window_save
from tenants.exceptions import DomainError
from tenants.models import AuditEvent, BrownoutWindow, JiraSite
from tenants.services.campaigns import legacy_sites_pause_after_cutoff
from tests.backups.conftest import run_to_end
from tests.factories import UserFactory


def _backup(site) -> BackupJob:
    job, created = backup_job_enqueue(site=site, kind=BackupJob.Kind.FULL, acting_user=None)
    assert created
    return run_to_end(job)


def test_before_the_cutoff_a_legacy_backup_works_with_basic_auth(world, wizard_sandbox):
    job = _backup(world.site)

    assert job.status == BackupJob.Status.SUCCEEDED, job.status_reason
    calls = wizard_sandbox.requests_where(site=wizard_sandbox.site("acme"))
    assert calls and {r.credential for r in calls} == {"basic"}


def test_after_the_cutoff_a_legacy_backup_sends_nothing_and_pauses(world, wizard_sandbox, settings):
    settings.LEGACY_CUTOFF = datetime(2026, 1, 1, tzinfo=UTC)

    job = _backup(world.site)

    assert wizard_sandbox.requests_where(credential="basic") == []
    assert job.status == BackupJob.Status.PAUSED_NEEDS_REAUTH
    assert "re-authorization" in job.status_reason


def test_after_the_cutoff_legacy_sites_are_marked_re_authorization_required(
    world, wizard_sandbox, settings
):
    settings.LEGACY_CUTOFF = datetime(2026, 1, 1, tzinfo=UTC)

    assert legacy_sites_pause_after_cutoff() == [world.site.pk]
    assert legacy_sites_pause_after_cutoff() == []  # idempotent

    site = JiraSite.objects.get(pk=world.site.pk)
    assert site.status == JiraSite.Status.NEEDS_REAUTH
    assert site.status_reason.startswith("re-authorization required")
    job = _backup(site)
    assert job.status == BackupJob.Status.PAUSED_NEEDS_REAUTH
    assert "re-authorization required" in job.status_reason
    assert wizard_sandbox.requests_where(credential="basic") == []
    # The customer sees it on their site list and in the wizard.
    client = Client()
    client.force_login(world.owner)
    assert b"re-authorization required" in client.get("/").content
    why = client.get(f"/t/{world.tenant.slug}/migrate/{world.case.pk}/why/")
    assert b"Backups of this site are paused: re-authorization required" in why.content
    # Staff see it in the audit log and on the site.
    event = AuditEvent.objects.get(action="site.status_changed", target_object_id=str(site.pk))
    assert event.summary["reason"].startswith("re-authorization required")


def test_nothing_is_paused_before_the_cutoff(world):
    assert legacy_sites_pause_after_cutoff() == []
    assert JiraSite.objects.get(pk=world.site.pk).status == JiraSite.Status.ACTIVE


def _window(minutes_from_now: int, length: int = 60, reason="scheduled brownout"):
    start = timezone.now() + timedelta(minutes=minutes_from_now)
    return brownout_window_save(
        window=BrownoutWindow(
            starts_at=start, ends_at=start + timedelta(minutes=length), reason=reason
        ),
        acting_user=UserFactory(staff=True),
    )


def test_a_brownout_window_refuses_legacy_backups_early(world, wizard_sandbox):
    _window(-5, reason="brownout: legacy tokens stop working on 1 January")

    job = _backup(world.site)

    assert wizard_sandbox.requests_where(credential="basic") == []
    assert job.status == BackupJob.Status.PAUSED_NEEDS_REAUTH
    assert "brownout" in job.status_reason


def test_outside_its_window_a_brownout_changes_nothing(world, wizard_sandbox):
    _window(60)
    _window(-120, length=60)

    job = _backup(world.site)

    assert job.status == BackupJob.Status.SUCCEEDED, job.status_reason


@pytest.mark.django_db
def test_the_hook_names_the_window_and_its_end():
    window = _window(-1, reason="nudge for stragglers")

    reason = brownout_hook(site_id=1, credential_kind="legacy_api_token", now=timezone.now())

    assert active_brownout() == window
    assert reason.startswith("nudge for stragglers") and "UTC" in reason
    assert brownout_hook(site_id=1, now=window.ends_at) is None
    assert AuditEvent.objects.filter(action="brownout.scheduled").count() == 1


@pytest.mark.django_db
def test_a_window_must_end_after_it_starts_and_give_a_reason():
    now = timezone.now()
    with pytest.raises(DomainError):
        brownout_window_save(
            window=BrownoutWindow(starts_at=now, ends_at=now, reason="x"), acting_user=None
        )
    with pytest.raises(DomainError):
        brownout_window_save(
            window=BrownoutWindow(starts_at=now, ends_at=now + timedelta(hours=1), reason=" "),
            acting_user=None,
        )
    assert not BrownoutWindow.objects.exists()


def test_the_hourly_beat_task_pauses_legacy_sites_after_the_cutoff(world, settings):
    from portal.celery import app
    from portal.wizard.tasks import pause_legacy_sites_after_cutoff

    settings.LEGACY_CUTOFF = datetime(2026, 1, 1, tzinfo=UTC)

    assert "portal.wizard.tasks" in app.conf.imports  # workers and beat load it
    assert "wizard.pause_legacy_sites_after_cutoff" in app.tasks
    assert pause_legacy_sites_after_cutoff.apply().get() == 1
    assert JiraSite.objects.get(pk=world.site.pk).status == JiraSite.Status.NEEDS_REAUTH
    assert pause_legacy_sites_after_cutoff.apply().get() == 0
