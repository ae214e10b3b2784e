"""Legal holds and offboarding that deletes (issue 22): after the grace period an offboarded
tenant's storage holds nothing and its snapshot key is gone; a legal hold stops that and
retention, audited on and off."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.utils import timezone

from backups.erasure import erase_due
from backups.models import BackupSchedule, Snapshot, TenantErasure
from backups.retention import prune_site
from backups.snapshots import layout, sealing
from tenants.models import AuditEvent, DataKey
from tenants.services import legal_hold_place, legal_hold_release, tenant_offboard
from tests.backups.conftest import backup, connect_site


def files_of(site) -> list[Path]:
    root = Path(storages["default"].location) / layout.site_root(site.cloud_id)
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def two_sites(backup_env, db):
    backup_env.state.reset(seed="test", projects=1, issues=12)
    acme = connect_site(backup_env, "acme")
    backup_env.state.add_site("bravo", projects=1, issues=8, admins=[backup_env.state.admin])
    other = connect_site(backup_env, "bravo")
    for site in (acme, other):
        assert backup(site).status == "succeeded"
    return acme, other


def key_states(tenant) -> set[str]:
    return set(
        DataKey.objects.filter(scope=sealing.tenant_scope(tenant.pk)).values_list(
            "state", flat=True
        )
    )


def test_offboarding_erases_every_object_and_destroys_the_key_after_the_grace_period(
    two_sites, settings, django_capture_on_commit_callbacks
):
    acme, other = two_sites
    settings.OFFBOARDING_GRACE_DAYS = 30
    tenant = acme.tenant
    assert files_of(acme) and key_states(tenant) == {"active"}
    tenant_offboard(tenant=tenant, reason="contract ended", acting_user=None)
    tenant.refresh_from_db()
    now = timezone.now()

    assert erase_due(now=now + timedelta(days=29)) == []  # within the grace period
    assert files_of(acme)

    with django_capture_on_commit_callbacks(execute=True):  # the key store deletion: on commit
        [erasure] = erase_due(now=now + timedelta(days=31))
    assert erasure.status == TenantErasure.Status.DONE
    assert files_of(acme) == []
    assert key_states(tenant) == {"destroyed"}
    stored = Path(storages["keys"].location) / sealing.tenant_scope(tenant.pk)
    assert not [p for p in stored.rglob("*") if p.is_file()]  # crypto-shred: no wrapped copy
    assert erasure.snapshots_erased == 1 and erasure.objects_deleted > 3
    assert erasure.bytes_deleted > 0 and erasure.finished_at and erasure.offboarded_at
    assert erasure.data_keys_destroyed and erasure.sites == [acme.cloud_id]
    assert not Snapshot.objects.filter(site=acme, status="complete").exists()
    event = AuditEvent.objects.get(action="tenant.backups_erased")
    assert event.summary["objects"] == erasure.objects_deleted
    # The other tenant's backups are untouched; a second pass finds nothing to do.
    assert files_of(other) and key_states(other.tenant) == {"active"}
    assert erase_due(now=now + timedelta(days=32)) == []


def test_a_legal_hold_stops_the_erasure_until_it_is_released(
    two_sites, settings, django_capture_on_commit_callbacks
):
    acme, _ = two_sites
    settings.OFFBOARDING_GRACE_DAYS = 0
    hold = legal_hold_place(site=acme, reason="litigation 2026-17", acting_user=None)
    tenant_offboard(tenant=acme.tenant, reason="contract ended", acting_user=None)
    before = sorted(files_of(acme))

    [held] = erase_due(now=timezone.now() + timedelta(days=1))
    assert held.status == TenantErasure.Status.HELD and "legal hold" in held.detail
    assert sorted(files_of(acme)) == before and key_states(acme.tenant) == {"active"}

    legal_hold_release(hold=hold, reason="case closed", acting_user=None)
    with django_capture_on_commit_callbacks(execute=True):
        [erasure] = erase_due(now=timezone.now() + timedelta(days=1))
    assert erasure.status == TenantErasure.Status.DONE and files_of(acme) == []
    assert key_states(acme.tenant) == {"destroyed"}
    actions = list(
        AuditEvent.objects.filter(action__startswith="legal_hold").values_list("action", flat=True)
    )
    assert sorted(actions) == ["legal_hold.placed", "legal_hold.released"]


def test_a_legal_hold_on_the_tenant_stops_retention_and_a_release_lets_it_prune(backup_env, db):
    backup_env.state.reset(seed="test", projects=1, issues=10)
    site = connect_site(backup_env, "acme")
    BackupSchedule.objects.create(
        site=site, keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0
    )
    old = backup(site)
    backup_env.mutate(fraction=0.3, site="acme", seed=2)
    backup(site)
    hold = legal_hold_place(tenant=site.tenant, reason="regulator request", acting_user=None)
    before = sorted(files_of(site))

    report = prune_site(site=site)
    assert report.held and report.pruned_snapshots == [] and report.deleted_objects == []
    assert Snapshot.objects.get(pk=old.snapshot_id).status == "complete"
    assert sorted(files_of(site)) == before

    legal_hold_release(hold=hold, reason="request withdrawn", acting_user=None)
    report = prune_site(site=site)
    assert report.pruned_snapshots == [str(old.snapshot_id)] and report.deleted_objects


def test_the_legal_hold_command_places_lists_and_releases(two_sites):
    acme, _ = two_sites
    out = io.StringIO()
    call_command("legal_hold", "place", "--site", acme.cloud_id, "--reason", "audit", stdout=out)
    listed = io.StringIO()
    call_command("legal_hold", "list", "--format", "json", stdout=listed)
    assert f'"on": "site {acme.url}"' in listed.getvalue()
    hold_id = str(acme.legal_holds.get().pk)
    with pytest.raises(Exception, match="needs --reason"):
        call_command("legal_hold", "release", "--hold", hold_id, stdout=io.StringIO())
    call_command(
        "legal_hold", "release", "--hold", hold_id, "--reason", "done", stdout=io.StringIO()
    )
    assert acme.legal_holds.get().released_at is not None


def test_staff_place_a_hold_in_the_admin_and_release_it_with_a_reason(two_sites, client):
    from tests.conftest import mfa_client
    from tests.factories import UserFactory

    acme, _ = two_sites
    staff = mfa_client(UserFactory(username="legal", superuser=True), client)
    page = staff.post(
        "/admin/tenants/legalhold/add/",
        {"tenant": acme.tenant.pk, "site": "", "reason": "subpoena"},
    )
    assert page.status_code == 302, page.content[:2000]
    hold = acme.tenant.legal_holds.get()
    assert AuditEvent.objects.filter(action="legal_hold.placed", actor=staff.user).exists()
    both = staff.post(
        "/admin/tenants/legalhold/add/",
        {"tenant": acme.tenant.pk, "site": acme.pk, "reason": "x"},
    )
    assert b"not both" in both.content
    staff.post(
        "/admin/tenants/legalhold/",
        {
            "action": "release",
            "_selected_action": [hold.pk],
            "confirm": "yes",
            "reason": "settled",
        },
    )
    hold.refresh_from_db()
    assert hold.released_at is not None and hold.release_reason == "settled"


def test_each_tenants_objects_live_only_in_its_own_storage_location(
    backup_env, db, settings, tmp_path
):
    from django.core.files.storage import storages as handler

    from ops.compliance import build_compliance_report
    from tenants.services import tenant_create

    roots = {name: tmp_path / name for name in ("eu", "us")}
    settings.STORAGES = {
        **settings.STORAGES,
        **{
            f"location-{name}": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(root)},
            }
            for name, root in roots.items()
        },
    }
    settings.STORAGE_LOCATIONS = {name: f"location-{name}" for name in roots}
    for alias in list(handler._storages):
        handler._storages.pop(alias, None)
    with pytest.raises(Exception, match="unknown storage location 'mars'"):
        tenant_create(name="X", slug="x", storage_location="mars", acting_user=None)
    eu = tenant_create(name="Acme EU", slug="acme-eu", storage_location="eu", acting_user=None)
    us = tenant_create(name="Bravo US", slug="bravo-us", storage_location="us", acting_user=None)
    backup_env.state.reset(seed="test", projects=1, issues=8)
    a = connect_site(backup_env, "acme", tenant=eu)
    backup_env.state.add_site("bravo", projects=1, issues=8, admins=[backup_env.state.admin])
    b = connect_site(backup_env, "bravo", tenant=us)
    for site in (a, b):
        job = backup(site)
        assert job.status == "succeeded", job.status_reason

    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}

    in_eu, in_us = files(roots["eu"]), files(roots["us"])
    assert in_eu and all(p.startswith(f"backups/{a.cloud_id}/") for p in in_eu)
    assert in_us and all(p.startswith(f"backups/{b.cloud_id}/") for p in in_us)
    default_root = Path(storages["default"].location)
    assert not default_root.exists() or not files(default_root)
    # Restore reads from the location too, and the compliance report says where.
    from backups.snapshots.verify import verify_snapshot

    snap = Snapshot.objects.get(site=a)
    assert verify_snapshot(a.cloud_id, str(snap.pk), deep=True) == []
    line = build_compliance_report().line("data_residency")
    where = {row["tenant"]: row["storage_location"] for row in line.rows}
    assert where["Acme EU"] == "eu" and where["Bravo US"] == "us"
    assert all(row["sealed_with_own_key"] for row in line.rows if row["tenant"] != "X")
