"""The change view in the admin (issue 19, item 2): linked from the site's page and each
snapshot's page; shows the deleted select option and the changed workflow between two
snapshots, and the issues that changed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from backups.models import BackupJob
from tests.backups.conftest import backup, connect_site
from tests.backups.test_changes import bad_week

pytestmark = pytest.mark.django_db


@pytest.fixture
def featured(backup_env):
    backup_env.state.reset(seed="test", features="all", projects=2, issues=30)
    return backup_env


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_the_change_page_is_linked_from_the_site_and_snapshot_pages(featured, superuser_client):
    site = connect_site(featured, "acme")
    snapshot = backup(site).snapshot
    changes = reverse("admin:backups_snapshot_changes")

    site_page = text(superuser_client.get(reverse("admin:tenants_jirasite_change", args=[site.pk])))
    snapshot_page = text(
        superuser_client.get(reverse("admin:backups_snapshot_change", args=[snapshot.pk]))
    )

    assert f"{changes}?site={site.pk}" in site_page
    assert f"{changes}?site={site.pk}&amp;before={snapshot.pk}" in snapshot_page


def test_the_change_page_shows_what_changed_between_two_snapshots(featured, superuser_client):
    site = connect_site(featured, "acme", software=True)
    t1 = backup(site)
    what = bad_week(featured, site)
    t2 = backup(site, BackupJob.Kind.INCREMENTAL)

    # From the first snapshot's page: the next snapshot is preselected.
    page = text(
        superuser_client.get(
            reverse("admin:backups_snapshot_changes"),
            {"site": site.pk, "before": str(t1.snapshot_id)},
        )
    )

    assert f'<option value="{t2.snapshot_id}" selected>' in page
    assert "1 deleted, 1 modified" in page
    assert "field_options" in page and "field option &quot;Bronze&quot; of Customer Tier" in page
    assert "workflow &quot;Software workflow&quot;" in page and "transitions[51 Block]" in page
    assert what["deleted"] in page and "Renamed by the bulk" in page


def test_the_change_page_without_a_choice_only_shows_the_form(featured, superuser_client):
    site = connect_site(featured, "acme")
    backup(site)
    featured.state.request_log.clear()

    page = text(superuser_client.get(reverse("admin:backups_snapshot_changes"), {"site": site.pk}))

    assert 'id="changes-form"' in page and 'id="changes-summary"' not in page
    assert featured.state.request_log.records == []  # nothing read from Jira


def test_the_same_snapshot_twice_is_refused_in_words(featured, superuser_client):
    site = connect_site(featured, "acme")
    snapshot = backup(site).snapshot

    page = text(
        superuser_client.get(
            reverse("admin:backups_snapshot_changes"),
            {"site": site.pk, "before": str(snapshot.pk), "after": str(snapshot.pk)},
        )
    )

    assert "Choose two different snapshots, or the site now." in page
