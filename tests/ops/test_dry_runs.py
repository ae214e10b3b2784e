"""Dry runs that rehearse the real request and roll it back keep what must outlive them."""

from __future__ import annotations

import io
from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from backups.models import Snapshot
from backups.restore.models import RestoreJob
from tenants.models import AuditEvent, OAuthGrant
from tenants.tokens import refresh_grant
from tests.backups.conftest import acme, backup, backup_env  # noqa: F401 - fixtures


def test_a_restore_dry_run_keeps_no_job_but_keeps_a_token_it_had_to_refresh(acme):  # noqa: F811
    snapshot = Snapshot.objects.get(pk=backup(acme).snapshot_id)
    grant = OAuthGrant.objects.get(pk=acme.grant_id)
    OAuthGrant.objects.filter(pk=grant.pk).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    events = AuditEvent.objects.count()
    out = io.StringIO()

    call_command(
        "restore_snapshot", str(snapshot.pk), "--to", acme.cloud_id, "--dry-run", stdout=out
    )

    assert "issues: " in out.getvalue()
    assert not RestoreJob.objects.exists()
    grant.refresh_from_db()
    # The refresh was committed before the plan, not rolled back with it...
    assert grant.access_token_expires_at > timezone.now()
    assert AuditEvent.objects.filter(action="restore.dry_run_requested").count() == 0
    assert AuditEvent.objects.count() >= events
    # ...so the stored refresh token is the one Atlassian expects next.
    refresh_grant(grant.pk, force=True)
