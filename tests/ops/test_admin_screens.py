"""The console says what it means: human messages where a constraint would name itself, e-mail
addresses typed as addresses, one date-time format, objects by a readable label, records of what
happened read-only, and restore reachable from where staff are."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.db.models import CheckConstraint, UniqueConstraint
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupJob, BackupSchedule, Checkpoint, Snapshot
from tenants.models import Membership, Tenant
from tests.factories import GrantSiteFactory, MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

OUR_APPS = ("tenants", "backups", "portal", "atlassian", "ops")
# backups/restore/ belongs to another change: its constraints get their messages there. Restore
# jobs are read-only in the console, so no form meets them meanwhile.
PENDING: set[str] = set()
CONSTRAINT_NAMES = {
    constraint.name
    for label in OUR_APPS
    for model in apps.get_app_config(label).get_models()
    for constraint in model._meta.constraints
}


def text(response) -> str:
    return response.content.decode()


def assert_no_constraint_name(page: str) -> None:
    leaked = {name for name in CONSTRAINT_NAMES if name in page}
    assert not leaked, leaked
    assert "is violated" not in page


def snapshot_of(site, *, job=None, minutes_ago: int = 0) -> Snapshot:
    done = timezone.now() - timedelta(minutes=minutes_ago)
    return Snapshot.objects.create(
        site=site,
        job=job,
        kind="full",
        format_version=1,
        manifest_path="m",
        manifest_sha256="0" * 64,
        started_at=done - timedelta(minutes=3),
        completed_at=done,
        counts={"issues": 120},
        bytes_total=5_300_000,
    )


# ---------------------------------------------------------------- constraint messages


def test_every_constraint_of_our_models_has_a_human_message():
    for label in OUR_APPS:
        for model in apps.get_app_config(label).get_models():
            for constraint in model._meta.constraints:
                if constraint.name in PENDING:
                    continue
                assert isinstance(constraint, CheckConstraint | UniqueConstraint)
                message = constraint.get_violation_error_message()
                assert constraint.name not in message, (model, constraint.name)
                assert "is violated" not in message, (model, constraint.name)


def test_a_brownout_that_ends_before_it_starts_says_so_in_words(superuser_client):
    response = superuser_client.post(
        reverse("admin:tenants_brownoutwindow_add"),
        {
            "starts_at_0": "2026-12-01",
            "starts_at_1": "10:00:00",
            "ends_at_0": "2026-12-01",
            "ends_at_1": "09:00:00",
            "reason": "Brownout: API tokens stop working on 1 January",
        },
    )

    assert response.status_code == 200
    assert "The brownout must end after it starts." in text(response)
    assert_no_constraint_name(text(response))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("interval_hours", "0", "the interval is at least 1 hour"),
        ("keep_last", "0", "keep last is at least 1"),
    ],
)
def test_a_schedule_setting_out_of_range_says_so_in_words(superuser_client, field, value, message):
    site = GrantSiteFactory(in_use=True).site
    data = {
        "site": site.pk,
        "enabled": "on",
        "interval_hours": "24",
        "full_every_days": "30",
        "next_run_at_0": "",
        "next_run_at_1": "",
        "keep_last": "7",
        "keep_daily": "14",
        "keep_weekly": "8",
        "keep_monthly": "12",
        "max_age_days": "0",
        field: value,
    }

    response = superuser_client.post(reverse("admin:backups_backupschedule_add"), data)

    assert response.status_code == 200
    assert message in text(response)
    assert_no_constraint_name(text(response))
    assert not BackupSchedule.objects.exists()


def test_adding_a_member_twice_says_so_in_words(superuser_client):
    membership = MembershipFactory()

    response = superuser_client.post(
        reverse("admin:tenants_membership_add"),
        {"user": membership.user.pk, "tenant": membership.tenant.pk, "role": "viewer"},
    )

    assert response.status_code == 200
    assert "already a member of this tenant" in text(response)
    assert_no_constraint_name(text(response))
    assert Membership.objects.count() == 1


# ---------------------------------------------------------------- contact e-mails


def test_contact_e_mails_are_typed_one_per_line_and_stored_as_a_list(superuser_client):
    tenant = TenantFactory(contact_emails=["ops@acme.example"])
    url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    page = text(superuser_client.get(url))
    assert re.search(
        r"<textarea[^>]*name=\"contact_emails\"[^>]*>\s*ops@acme.example</textarea>", page
    )
    assert '["ops@acme.example"]' not in page

    response = superuser_client.post(
        url,
        {
            "name": tenant.name,
            "contact_emails": "ops@acme.example\nit@acme.example, cto@acme.example",
            **inline_management_forms(page),
        },
    )

    assert response.status_code == 302, text(response)[:2000]
    tenant.refresh_from_db()
    assert tenant.contact_emails == ["ops@acme.example", "it@acme.example", "cto@acme.example"]


def test_a_contact_that_is_not_an_address_is_named(superuser_client):
    tenant = TenantFactory(contact_emails=["ops@acme.example"])
    url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    page = text(superuser_client.get(url))

    response = superuser_client.post(
        url,
        {
            "name": tenant.name,
            "contact_emails": "ops@acme.example\nops at acme",
            **inline_management_forms(page),
        },
    )

    assert response.status_code == 200
    assert "Not an e-mail address: ops, at, acme. Enter one address per line." in text(response)
    tenant.refresh_from_db()
    assert tenant.contact_emails == ["ops@acme.example"]


def inline_management_forms(page: str) -> dict:
    """The inlines' management form values as the page rendered them (no inline row changes)."""
    return dict(
        re.findall(
            r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d+)"', page
        )
    )


# ---------------------------------------------------------------- one date-time format


def test_lists_and_pages_write_every_moment_the_same_way(superuser_client):
    site = GrantSiteFactory(in_use=True, site__tenant__name="Acme Corporation Holdings").site
    job = BackupJob.objects.create(site=site, status="succeeded", kind="full", objects_done=120)
    Checkpoint.objects.create(job=job, key="issues:10000:00000", status="done")
    snapshot_of(site, job=job)
    BackupSchedule.objects.create(site=site, last_success_at=timezone.now())
    stamp = re.compile(r"\b20\d\d-\d\d-\d\d \d\d:\d\d\b")
    pages = [
        reverse("admin:backups_backupjob_changelist"),
        reverse("admin:backups_backupjob_change", args=[job.pk]),
        reverse("admin:backups_snapshot_changelist"),
        reverse("admin:tenants_tenant_change", args=[site.tenant.pk]),
        reverse("admin:tenants_jirasite_changelist"),
    ]
    for url in pages:
        page = text(superuser_client.get(url))
        assert stamp.search(page), url
        assert not re.search(r"\b[ap]\.m\.", page), url  # "Dec. 6, 2026, 10:01 p.m."
        assert not re.search(r"\d\d:\d\d:\d\d\.\d{6}", page), url  # ISO with microseconds


# ---------------------------------------------------------------- labels and read-only records


def test_a_backup_job_page_is_a_read_only_record_with_a_readable_title(superuser_client):
    site = GrantSiteFactory(in_use=True, site__url="https://acme.atlassian.net").site
    job = BackupJob.objects.create(site=site, status="succeeded", kind="incremental")
    Checkpoint.objects.create(job=job, key="config", status="done")

    page = text(superuser_client.get(reverse("admin:backups_backupjob_change", args=[job.pk])))

    assert f"Incremental backup #{job.pk} of acme.atlassian.net" in page
    assert f"of {site.pk} (" not in page  # not "incremental backup #8 of 1"
    assert 'name="_save"' not in page and "deletelink" not in page
    assert 'name="checkpoints-0-DELETE"' not in page
    delete = reverse("admin:backups_backupjob_delete", args=[job.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    assert BackupJob.objects.filter(pk=job.pk).exists() and Checkpoint.objects.exists()


def test_a_snapshot_page_is_read_only_and_leads_to_restore(superuser_client):
    site = GrantSiteFactory(in_use=True).site
    snapshot = snapshot_of(site)

    page = text(superuser_client.get(reverse("admin:backups_snapshot_change", args=[snapshot.pk])))

    assert 'name="_save"' not in page and "deletelink" not in page
    assert reverse("admin:backups_restore_snapshot", args=[snapshot.pk]) in page
    assert reverse("admin:backups_restore_find_issue") + f"?site={site.pk}" in page


def test_snapshots_cannot_be_deleted_beside_the_restore_actions(superuser_client):
    snapshot_of(GrantSiteFactory(in_use=True).site)

    page = text(superuser_client.get(reverse("admin:backups_snapshot_changelist")))

    assert 'value="delete_selected"' not in page
    assert 'value="restore_snapshot_action"' in page


def test_a_restore_job_page_offers_no_save_or_delete(superuser_client):
    from backups.restore.models import RestoreJob

    site = GrantSiteFactory(in_use=True).site
    job = RestoreJob.objects.create(
        snapshot=snapshot_of(site), target_site=site, scope="issues", issue_keys=["ACME-12"]
    )

    page = text(superuser_client.get(reverse("admin:backups_restorejob_change", args=[job.pk])))

    assert 'name="_save"' not in page and "deletelink" not in page
    assert f"Restore #{job.pk} into {site.url.split('//')[1]}: ACME-12" in page
    assert "&lt;" not in page  # no markup escaped into the title
    assert 'http-equiv="refresh"' in page  # queued: the page follows it


# ---------------------------------------------------------------- restore is easy to find


def test_find_an_issue_is_linked_from_the_admin_index_and_the_site_page(superuser_client):
    site = GrantSiteFactory(in_use=True).site
    find = reverse("admin:backups_restore_find_issue")

    index = text(superuser_client.get(reverse("admin:index")))
    site_page = text(superuser_client.get(reverse("admin:tenants_jirasite_change", args=[site.pk])))

    assert find in index
    assert f"{find}?site={site.pk}" in site_page


def test_the_find_page_takes_a_site_by_its_url(superuser_client):
    site = GrantSiteFactory(in_use=True, site__url="https://acme.atlassian.net").site
    snapshot_of(site)

    page = text(
        superuser_client.get(
            reverse("admin:backups_restore_find_issue"),
            {"site": "acme.atlassian.net", "key": "ACME-1"},
        )
    )

    assert "No snapshot of https://acme.atlassian.net holds ACME-1." in page


def test_staff_without_the_restore_permission_see_no_restore_button(as_role):
    support = as_role("Support")
    snapshot = snapshot_of(GrantSiteFactory(in_use=True).site)

    assert (
        support.get(reverse("admin:backups_restore_snapshot", args=[snapshot.pk])).status_code
        == 403
    )
    assert (
        as_role("Operator")
        .get(reverse("admin:backups_restore_snapshot", args=[snapshot.pk]))
        .status_code
        == 200
    )


# ---------------------------------------------------------------- branding


def test_the_admin_is_branded_and_has_an_icon(superuser_client):
    page = text(superuser_client.get(reverse("admin:index")))

    assert "Jira Backup — operations" in page
    assert "Django administration" not in page and "Django site admin" not in page
    assert 'rel="icon"' in page and "favicon.svg" in page


def test_customer_pages_have_the_icon_too(client):
    UserFactory()
    page = text(client.get(reverse("account_login")))

    assert 'rel="icon"' in page and "favicon.svg" in page


def test_the_tenant_list_writes_the_tenant_once_not_name_and_slug(superuser_client):
    tenant = TenantFactory(name="Umbrella Corporation (demo)", slug="demo-umbrella")
    GrantSiteFactory(in_use=True, site__tenant=tenant)

    page = text(superuser_client.get(reverse("admin:tenants_jirasite_changelist")))

    assert "Umbrella Corporation (demo) (demo-umbrella)" not in page
    assert re.search(
        r'<span class="clip narrow" title="Umbrella Corporation \(demo\) · demo-umbrella">'
        r"Umbrella Corporation \(demo\)</span>",
        page,
    )
    assert Tenant.objects.count() >= 1
