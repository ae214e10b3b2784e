"""manage.py import_legacy_customers: CSV and JSON, idempotent, every row validated, secrets
encrypted on the way in (and refused after LEGACY_CUTOFF), a migration case per site."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from tenants.importer import import_legacy_file
from tenants.models import AuditEvent, JiraSite, LegacyCredential, MigrationCase, Tenant
from tests.factories import GrantSiteFactory, JiraSiteFactory, TenantFactory

pytestmark = pytest.mark.django_db

FIELDS = [
    "tenant",
    "tenant_name",
    "contact_emails",
    "site_url",
    "cloud_id",
    "kind",
    "email",
    "api_token",
    "client_id",
    "client_secret",
    "access_token",
    "refresh_token",
    "due_at",
]
TOKEN = "ATATT3x-secret-api-token-0001"
APP_SECRET = "customer-app-client-secret-0002"
APP_REFRESH = "customer-app-refresh-token-0003"


def token_row(**overrides):
    row = {
        "tenant": "acme",
        "tenant_name": "Acme Corp",
        "contact_emails": "ops@acme.example; it@acme.example",
        "site_url": "https://acme.atlassian.net",
        "cloud_id": "11111111-1111-4111-8111-111111111111",
        "kind": "api_token",
        "email": "jira-admin@acme.example",
        "api_token": TOKEN,
        "due_at": "2026-03-31",
    }
    row.update(overrides)
    return row


def app_row(**overrides):
    row = {
        "tenant": "globex",
        "tenant_name": "Globex",
        "contact_emails": "admin@globex.example",
        "site_url": "https://globex.atlassian.net",
        "cloud_id": "22222222-2222-4222-8222-222222222222",
        "kind": "customer_app",
        "client_id": "globex-own-app",
        "client_secret": APP_SECRET,
        "refresh_token": APP_REFRESH,
    }
    row.update(overrides)
    return row


def write_csv(path, rows):
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in FIELDS})
    return path


@pytest.fixture
def before_cutoff(settings):
    settings.LEGACY_CUTOFF = datetime(2099, 1, 1, tzinfo=UTC)


@pytest.fixture
def after_cutoff(settings):
    settings.LEGACY_CUTOFF = datetime(2026, 1, 1, tzinfo=UTC)


def test_it_imports_a_csv_book_with_encrypted_secrets_and_a_case_per_site(before_cutoff, tmp_path):
    book = write_csv(tmp_path / "book.csv", [token_row(), app_row()])

    report = import_legacy_file(book)

    assert report.errors == [] and report.imported == 2
    acme = Tenant.objects.get(slug="acme")
    assert acme.contact_emails == ["ops@acme.example", "it@acme.example"]
    site = JiraSite.objects.get(cloud_id="11111111-1111-4111-8111-111111111111")
    assert site.tenant == acme and site.url == "https://acme.atlassian.net"
    credential = site.legacy_credential
    assert credential.kind == LegacyCredential.Kind.API_TOKEN
    assert credential.email == "jira-admin@acme.example"
    assert TOKEN not in credential.api_token_ciphertext
    assert credential.api_token == TOKEN
    app = JiraSite.objects.get(cloud_id="22222222-2222-4222-8222-222222222222").legacy_credential
    assert app.client_secret == APP_SECRET and app.refresh_token == APP_REFRESH
    assert APP_SECRET not in app.client_secret_ciphertext
    case = MigrationCase.objects.get(site=site)
    assert case.state == MigrationCase.State.PENDING
    assert case.legacy_credential == credential
    assert case.due_at == datetime(2026, 3, 31, tzinfo=UTC)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"tenant.created", "site.created", "migration_case.opened"} <= actions
    created = AuditEvent.objects.get(action="site.created", target_object_id=str(site.pk))
    assert created.summary["legacy_credential"] == str(credential.pk)
    assert created.summary["secret_stored"] is True
    for event in AuditEvent.objects.all():
        assert TOKEN not in json.dumps(event.summary)


def test_it_imports_a_json_book_the_same_way(before_cutoff, tmp_path):
    book = tmp_path / "book.json"
    book.write_text(json.dumps([token_row(), app_row(contact_emails=["admin@globex.example"])]))

    report = import_legacy_file(book)

    assert report.errors == [] and report.imported == 2
    assert MigrationCase.objects.count() == 2
    assert Tenant.objects.get(slug="globex").contact_emails == ["admin@globex.example"]


def test_a_re_import_updates_and_never_duplicates(before_cutoff, tmp_path):
    book = write_csv(tmp_path / "book.csv", [token_row(), app_row()])
    import_legacy_file(book)
    counts = [m.objects.count() for m in (Tenant, JiraSite, LegacyCredential, MigrationCase)]

    again = import_legacy_file(book)
    assert again.unchanged == 2
    changed = write_csv(
        tmp_path / "changed.csv",
        [token_row(contact_emails="new-ops@acme.example", api_token="ATATT3x-rotated"), app_row()],
    )
    report = import_legacy_file(changed)

    assert [m.objects.count() for m in (Tenant, JiraSite, LegacyCredential, MigrationCase)] == (
        counts
    )
    assert report.tenants_updated == 1 and report.credentials_updated == 1
    assert Tenant.objects.get(slug="acme").contact_emails == ["new-ops@acme.example"]
    site = JiraSite.objects.get(cloud_id="11111111-1111-4111-8111-111111111111")
    assert site.legacy_credential.api_token == "ATATT3x-rotated"
    event = AuditEvent.objects.filter(action="legacy_credential.updated").get()
    assert event.summary["changed_fields"] == ["api_token"]


def test_bad_rows_are_reported_by_line_and_the_good_ones_imported(before_cutoff, tmp_path):
    rows = [
        token_row(),  # line 2
        token_row(cloud_id="33333333-3333-4333-8333-333333333333", contact_emails="nope"),  # 3
        app_row(kind="password"),  # line 4
        token_row(cloud_id="44444444-4444-4444-8444-444444444444", api_token=""),  # line 5
        app_row(),  # line 6
        token_row(site_url="https://other.atlassian.net"),  # line 7: same cloud id as line 2
    ]
    book = write_csv(tmp_path / "book.csv", rows)

    report = import_legacy_file(book)

    assert [e.line for e in report.errors] == [3, 4, 5, 7]
    messages = {e.line: e.message for e in report.errors}
    assert "contact_emails" in messages[3]
    assert "kind" in messages[4]
    assert "api_token: missing" in messages[5]
    assert "line 2" in messages[7]
    assert report.imported == 2
    assert set(JiraSite.objects.values_list("cloud_id", flat=True)) == {
        "11111111-1111-4111-8111-111111111111",
        "22222222-2222-4222-8222-222222222222",
    }
    # A bad row is left out whole: nothing of it was written.
    assert not JiraSite.objects.filter(cloud_id__startswith="3333").exists()
    assert not JiraSite.objects.filter(cloud_id__startswith="4444").exists()


def test_json_errors_name_the_line_where_the_record_starts(before_cutoff, tmp_path):
    book = tmp_path / "book.json"
    book.write_text(
        "[\n" + json.dumps(token_row()) + ",\n" + json.dumps(app_row(client_id="")) + "\n]\n"
    )

    report = import_legacy_file(book)

    assert [(e.line, e.message.split(":")[0]) for e in report.errors] == [(3, "client_id")]


def test_the_command_reports_bad_rows_without_secrets_and_exits_1(before_cutoff, tmp_path, capsys):
    book = write_csv(
        tmp_path / "book.csv",
        [token_row(), token_row(cloud_id="33333333-3333-4333-8333-333333333333", email="x")],
    )

    with pytest.raises(CommandError) as failed:
        call_command("import_legacy_customers", str(book))

    out, err = capsys.readouterr()
    assert failed.value.returncode == 1  # some rows failed; the others were imported
    assert "book.csv: 2 rows: 1 imported, 1 bad" in str(failed.value)
    assert re.search(r"3\s+bad\s+email: not a valid e-mail address", out)
    assert TOKEN not in out + err + str(failed.value)


def test_the_command_exits_2_for_a_file_that_is_not_there(tmp_path):
    with pytest.raises(CommandError, match="no such file") as failed:
        call_command("import_legacy_customers", str(tmp_path / "nowhere.csv"))

    assert failed.value.returncode == 2


def test_a_dry_run_reports_what_would_change_and_writes_nothing(before_cutoff, tmp_path, capsys):
    book = write_csv(tmp_path / "book.csv", [token_row(), app_row()])

    call_command("import_legacy_customers", str(book), "--dry-run")

    out = capsys.readouterr().out
    assert "dry run, nothing written" in out
    assert "sites 2 created" in out and "2 migration cases opened" in out
    assert not Tenant.objects.exists() and not LegacyCredential.objects.exists()
    assert not AuditEvent.objects.exists()


def test_after_the_cutoff_the_connection_is_recorded_but_its_secret_refused(after_cutoff, tmp_path):
    book = write_csv(tmp_path / "book.csv", [token_row(), app_row()])

    report = import_legacy_file(book)

    assert report.errors == [] and report.secrets_withheld == 2
    for credential in LegacyCredential.objects.all():
        assert credential.secret_withheld
        assert not credential.has_secret
    site = JiraSite.objects.get(cloud_id="11111111-1111-4111-8111-111111111111")
    assert site.legacy_credential.email == "jira-admin@acme.example"
    assert MigrationCase.objects.filter(site=site).exists()
    # It cannot be backed up until the customer migrates, and says so.
    assert site.status == JiraSite.Status.NEEDS_REAUTH
    assert site.status_reason.startswith("re-authorization required")
    # Re-importing after the cutoff does not sneak the secret in either.
    import_legacy_file(book)
    assert not any(c.has_secret for c in LegacyCredential.objects.all())


def test_a_site_already_on_the_vendor_app_is_left_alone(before_cutoff, tmp_path):
    tenant = TenantFactory(slug="acme", name="Acme Corp", contact_emails=["ops@acme.example"])
    site = JiraSiteFactory(tenant=tenant, cloud_id="11111111-1111-4111-8111-111111111111")
    GrantSiteFactory(site=site, in_use=True)
    book = write_csv(tmp_path / "book.csv", [token_row(contact_emails="ops@acme.example")])

    report = import_legacy_file(book)

    assert report.already_migrated == [2] and report.errors == []
    site.refresh_from_db()
    assert site.grant_id and site.legacy_credential_id is None
    assert not LegacyCredential.objects.exists()


def test_a_site_of_another_customer_is_a_bad_row(before_cutoff, tmp_path):
    JiraSiteFactory(cloud_id="11111111-1111-4111-8111-111111111111")  # another tenant's
    book = write_csv(tmp_path / "book.csv", [token_row(), app_row()])

    report = import_legacy_file(book)

    assert [e.line for e in report.errors] == [2]
    assert "another customer" in report.errors[0].message
    assert report.imported == 1


def test_a_site_known_only_by_url_gets_a_placeholder_cloud_id(before_cutoff, tmp_path):
    book = write_csv(tmp_path / "book.csv", [token_row(cloud_id="")])

    import_legacy_file(book)
    import_legacy_file(book)

    site = JiraSite.objects.get()
    assert site.cloud_id == "unresolved:acme.atlassian.net"


def test_a_site_imported_before_the_cutoff_is_paused_by_a_re_import_after_it(
    before_cutoff, tmp_path, settings
):
    book = write_csv(tmp_path / "book.csv", [token_row()])
    import_legacy_file(book)
    settings.LEGACY_CUTOFF = datetime(2026, 1, 1, tzinfo=UTC)

    report = import_legacy_file(book)

    site = JiraSite.objects.get()
    assert site.status == JiraSite.Status.NEEDS_REAUTH
    assert report.unchanged == 0


def test_switching_the_kind_on_re_import_replaces_and_shreds_the_old_credential(
    before_cutoff, tmp_path
):
    cloud_id = "11111111-1111-4111-8111-111111111111"
    import_legacy_file(write_csv(tmp_path / "a.csv", [token_row()]))
    old = JiraSite.objects.get(cloud_id=cloud_id).legacy_credential

    import_legacy_file(write_csv(tmp_path / "b.csv", [app_row(tenant="acme", cloud_id=cloud_id)]))

    site = JiraSite.objects.get(cloud_id=cloud_id)
    assert site.legacy_credential.kind == LegacyCredential.Kind.CUSTOMER_APP
    old.refresh_from_db()
    assert old.status == LegacyCredential.Status.PURGED and old.api_token_ciphertext is None
    assert MigrationCase.objects.filter(site=site).count() == 1


def test_no_secret_reaches_the_logs_even_at_debug(before_cutoff, tmp_path, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    book = write_csv(tmp_path / "book.csv", [token_row(), app_row(), token_row(email="bad")])

    import_legacy_file(book)
    import_legacy_file(book)

    for secret in (TOKEN, APP_SECRET, APP_REFRESH):
        assert secret not in caplog.text
