"""A legacy site imported by URL only (a placeholder cloud id) learns its real cloud id from the
migration consent. Its backup schedule's pool is named after the cloud id, so the schedule's
copy moves with it in the same transaction, and the quota planner sees the real pool."""

from __future__ import annotations

from urllib.parse import urlsplit

from backups.models import BackupSchedule
from backups.services import schedule_create
from tenants.models import AuditEvent, JiraSite, MigrationCase
from tenants.services.sites import UNRESOLVED_PREFIX
from tests.ops.test_schedule_site_facts import assert_figures_match_the_source_tables
from tests.wizard.conftest import authorize, wizard_url


def test_resolving_the_cloud_id_moves_the_schedules_pool_to_the_real_cloud_id(
    world, owner_client, wizard_sandbox
):
    remote = wizard_sandbox.site("acme")
    placeholder = f"{UNRESOLVED_PREFIX}{urlsplit(remote.url).hostname}"
    JiraSite.objects.filter(pk=world.site.pk).update(cloud_id=placeholder)
    world.site.refresh_from_db()
    schedule_create(site=world.site, acting_user=None, interval_hours=24)
    assert BackupSchedule.objects.get(site=world.site).pool == f"api-token:{placeholder}"

    response = authorize(owner_client, world, wizard_sandbox)

    assert response["Location"] == wizard_url(world, "verify")
    assert MigrationCase.objects.get(pk=world.case.pk).state == MigrationCase.State.VERIFIED
    site = JiraSite.objects.get(pk=world.site.pk)
    assert site.cloud_id == remote.cloud_id
    assert site.legacy_credential_id == world.credential.pk  # still legacy until the cut-over
    schedule = BackupSchedule.objects.get(site=site)
    assert (schedule.pool, schedule.site_status) == (f"api-token:{remote.cloud_id}", "active")
    event = AuditEvent.objects.get(action="site.cloud_id_resolved")
    assert event.summary["from"] == placeholder and event.summary["to"] == remote.cloud_id
    assert_figures_match_the_source_tables()
