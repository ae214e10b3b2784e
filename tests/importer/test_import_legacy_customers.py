"""manage.py import_legacy_customers: CSV and JSON, idempotent, every row validated, secrets
encrypted on the way in (and refused after LEGACY_CUTOFF), a migration case per site."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from backups.models import BackupSchedule
from backups.protection.models import Incident
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
    linked = AuditEvent.objects.get(
        action="site.legacy_credential_linked", target_object_id=str(site.pk)
    )
    assert linked.summary["legacy_credential"] == str(credential.pk)
    created = AuditEvent.objects.get(
        action="legacy_credential.created", target_object_id=str(credential.pk)
    )
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


# ------------------------------------------------------------------ the fast path = the services


def natural_keys() -> dict[tuple[str, str], str]:
    """(model, pk) -> a key that does not depend on primary keys (they differ between runs)."""
    keys = {("tenant", str(t.pk)): t.slug for t in Tenant.objects.all()}
    for site in JiraSite.objects.all():
        keys[("jirasite", str(site.pk))] = site.cloud_id
    for case in MigrationCase.objects.select_related("site"):
        keys[("migrationcase", str(case.pk))] = f"case of {case.site.cloud_id}"
    for credential in LegacyCredential.objects.all():
        keys[("legacycredential", str(credential.pk))] = f"credential for {credential.site_url}"
    for schedule in BackupSchedule.objects.select_related("site"):
        keys[("backupschedule", str(schedule.pk))] = f"schedule of {schedule.site.cloud_id}"
    for incident in Incident.objects.select_related("site"):
        keys[("incident", str(incident.pk))] = f"{incident.kind} of {incident.site.cloud_id}"
    return keys


def everything_written() -> dict[str, list]:
    """Every row and audit event the import wrote, with primary keys and timestamps replaced
    by natural keys (secrets compared decrypted: ciphertexts differ by their nonce)."""
    keys = natural_keys()
    credential_key = {pk: key for (model, pk), key in keys.items() if model == "legacycredential"}
    events = []
    for event in AuditEvent.objects.select_related("target_content_type", "tenant"):
        summary = dict(event.summary)
        if "legacy_credential" in summary:
            summary["legacy_credential"] = credential_key[summary["legacy_credential"]]
        target = (event.target_content_type.model, event.target_object_id)
        events.append(
            (event.action, keys[target], event.tenant.slug, event.actor_id, json.dumps(summary))
        )
    return {
        "tenants": sorted(
            (t.slug, t.name, t.contact_emails, t.status) for t in Tenant.objects.all()
        ),
        "sites": sorted(
            (
                s.cloud_id,
                s.tenant.slug,
                s.url,
                s.name,
                s.status,
                s.status_reason,
                credential_key.get(str(s.legacy_credential_id)),
                s.grant_id,
            )
            for s in JiraSite.objects.select_related("tenant")
        ),
        "credentials": sorted(
            (
                f"credential for {c.site_url}",
                c.tenant.slug,
                c.kind,
                c.status,
                c.email,
                c.client_id,
                c.secret_withheld,
                c.api_token,
                c.client_secret,
                c.access_token,
                c.refresh_token,
                c.access_token_expires_at,
            )
            for c in LegacyCredential.objects.select_related("tenant")
        ),
        "cases": sorted(
            (
                c.site.cloud_id,
                c.state,
                c.due_at.isoformat(),
                credential_key[str(c.legacy_credential_id)],
            )
            for c in MigrationCase.objects.select_related("site")
        ),
        "schedules": sorted(
            (
                b.site.cloud_id,
                b.enabled,
                b.interval_hours,
                b.keep_last,
                b.keep_daily,
                b.pool,
                b.site_status,
            )
            for b in BackupSchedule.objects.select_related("site")
        ),
        "events": sorted(events),
    }


def written_by(book, *, bulk: bool):
    """Import ``book`` one way, note everything written and how many queries it took, and roll
    it all back (audit rows cannot be deleted; a rollback leaves the table as it was)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            report = import_legacy_file(book, bulk=bulk)
        written = everything_written()
        transaction.set_rollback(True)
    return report.summary(), written, len(queries)


@pytest.mark.parametrize("cutoff", ["before_cutoff", "after_cutoff"])
def test_the_fast_bulk_path_writes_the_same_rows_and_audit_events_as_the_services(
    cutoff, request, tmp_path
):
    request.getfixturevalue(cutoff)
    TenantFactory(slug="globex", name="Old Globex name", contact_emails=["old@globex.example"])
    book = write_csv(
        tmp_path / "book.csv",
        [
            token_row(),
            token_row(  # the same tenant, a second site known by URL only
                cloud_id="", site_url="https://acme-eu.atlassian.net", api_token="ATATT3x-eu"
            ),
            app_row(),  # an existing tenant, renamed by the book
            app_row(
                tenant="initech",
                tenant_name="Initech",
                contact_emails="it@initech.example",
                site_url="",
                cloud_id="55555555-5555-4555-8555-555555555555",
                access_token="customer-app-access-token-0004",
            ),
        ],
    )

    fast_report, fast, fast_queries = written_by(book, bulk=True)
    slow_report, slow, slow_queries = written_by(book, bulk=False)

    assert fast_report == slow_report
    for part in ("tenants", "sites", "credentials", "cases", "schedules", "events"):
        assert fast[part] == slow[part], part
    # Per site: site.created, legacy_credential.created, site.legacy_credential_linked,
    # backup.protection_applied (its schedule), migration_case.opened, and after the cutoff
    # site.status_changed and backup.incident_opened (paused); 2 tenants created, 1 renamed.
    per_site = 7 if cutoff == "after_cutoff" else 5
    assert len(fast["sites"]) == 4 and len(fast["events"]) == 4 * per_site + 3
    # The fast path did take its own way: a handful of statements per batch, not per row.
    assert fast_queries < slow_queries / 2


# ------------------------------------------------------------------ hardening (issue 23, item 10)


def test_an_error_never_echoes_a_value_of_the_row(before_cutoff, tmp_path, capsys):
    pasted = "ATATT3xFfGF0-pasted-into-the-wrong-column"
    JiraSiteFactory(cloud_id="66666666-6666-4666-8666-666666666666")  # another customer's
    book = write_csv(
        tmp_path / "book.csv",
        [
            token_row(contact_emails=f"ops@acme.example; {pasted}"),  # line 2
            token_row(  # line 3: a token-like slug, refused while writing (another customer's)
                tenant="ATATT3xFfGF0slug",
                cloud_id="66666666-6666-4666-8666-666666666666",
            ),
            token_row(cloud_id="77777777-7777-4777-8777-777777777777", email=pasted),  # line 4
        ],
    )

    with pytest.raises(CommandError) as failed:
        call_command("import_legacy_customers", str(book))

    assert failed.value.returncode == 1
    out, err = capsys.readouterr()
    report = " ".join((out + err + str(failed.value)).split())
    assert "2 bad contact_emails: entry 2 is not a valid e-mail address" in report
    assert "3 bad the site is already connected to another customer" in report
    assert "4 bad email: not a valid e-mail address" in report
    for value in (pasted, "ATATT3xFfGF0slug", "66666666-6666-4666-8666-666666666666"):
        assert value.lower() not in report.lower()


def test_a_refused_row_leaves_nothing_behind_not_even_its_tenant(before_cutoff, tmp_path):
    JiraSiteFactory(cloud_id="66666666-6666-4666-8666-666666666666")  # another customer's
    TenantFactory(slug="globex", name="Globex", contact_emails=["admin@globex.example"])
    events_before = AuditEvent.objects.count()
    book = write_csv(
        tmp_path / "book.csv",
        [
            token_row(tenant="newco", cloud_id="66666666-6666-4666-8666-666666666666"),
            app_row(tenant_name="Globex renamed", cloud_id="66666666-6666-4666-8666-666666666666"),
        ],
    )

    report = import_legacy_file(book)

    assert [e.line for e in report.errors] == [2, 3]
    assert not Tenant.objects.filter(slug="newco").exists()
    assert Tenant.objects.get(slug="globex").name == "Globex"  # not renamed by a refused row
    assert AuditEvent.objects.count() == events_before
    assert not LegacyCredential.objects.exists() and not MigrationCase.objects.exists()
    assert "0 imported, 2 bad; tenants 0 created / 0 updated" in report.summary()


@pytest.mark.parametrize(
    "site_url",
    [
        "http://acme.atlassian.net",  # Basic credentials over plain HTTP
        "https://jira.acme.example",  # not Atlassian's
        "https://acme.atlassian.net.evil.example",
        "https://acme.atlassian.net:8443",
        "https://acme.atlassian.net/wiki",
        "https://user:pw@acme.atlassian.net",
    ],
)
def test_only_https_site_urls_on_atlassians_hosts_are_accepted(before_cutoff, tmp_path, site_url):
    book = write_csv(tmp_path / "book.csv", [token_row(site_url=site_url)])

    report = import_legacy_file(book)

    assert [e.message.split(":")[0] for e in report.errors] == ["site_url"]
    assert "pw" not in report.errors[0].message
    assert not JiraSite.objects.exists() and not Tenant.objects.exists()


def test_a_setting_adds_the_sandboxs_origin_for_development(before_cutoff, tmp_path, settings):
    settings.LEGACY_SITE_EXTRA_ORIGINS = ["http://127.0.0.1:8765"]
    book = write_csv(
        tmp_path / "book.csv",
        [
            token_row(site_url="http://127.0.0.1:8765/site/acme"),
            token_row(cloud_id="", site_url="http://127.0.0.1:9999/site/other"),
        ],
    )

    report = import_legacy_file(book)

    assert [(e.line, e.message.split(":")[0]) for e in report.errors] == [(3, "site_url")]
    site = JiraSite.objects.get()
    assert site.url == "http://127.0.0.1:8765/site/acme"
    assert site.legacy_credential.site_url == site.url
