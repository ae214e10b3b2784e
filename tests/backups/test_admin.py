"""Support staff see a job's progress, reason and last checkpoint in the admin (and no secret)."""

from __future__ import annotations

from backups.models import BackupJob
from backups.services import backup_job_enqueue
from tenants.models import OAuthGrant
from tests.backups.conftest import backup
from tests.conftest import mfa_client
from tests.factories import UserFactory


def test_the_job_list_and_page_show_progress_reason_and_last_checkpoint(acme):
    finished = backup(acme)
    failed, _ = backup_job_enqueue(site=acme, kind="full", acting_user=None)
    BackupJob.objects.filter(pk=failed.pk).update(
        status=BackupJob.Status.FAILED,
        status_reason="site deleted: Atlassian no longer serves the site",
        last_checkpoint="issues:10000:00003",
    )
    client = mfa_client(UserFactory(superuser=True))

    response = client.get("/admin/backups/backupjob/")
    assert response.status_code == 200
    listing = response.content.decode()
    page = client.get(f"/admin/backups/backupjob/{failed.pk}/change/").content.decode()
    done_page = client.get(f"/admin/backups/backupjob/{finished.pk}/change/").content.decode()

    assert "site deleted: Atlassian no longer serves the site" in listing
    assert "issues:10000:00003" in page
    assert f"{finished.objects_done} / {finished.objects_total}" in done_page
    grant = OAuthGrant.objects.get(pk=acme.grant_id)
    for html in (listing, page, done_page):
        assert grant.access_token not in html
        assert grant.refresh_token not in html
