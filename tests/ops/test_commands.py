"""Every bulk command through ``call_command``: filters, dry run, formats, exit codes."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase

from tenants.models import (
    AuditEvent,
    JiraSite,
    LegacyCredential,
    MigrationCase,
    MigrationNotice,
    OAuthGrant,
)
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    MigrationCaseFactory,
    OAuthGrantFactory,
)


def run(*args, **kwargs) -> tuple[str, str]:
    """The command's stdout and stderr; e-mails sent on commit are delivered."""
    out, err = io.StringIO(), io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command(*args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def run_failing(*args, **kwargs) -> CommandError:
    with pytest.raises(CommandError) as raised:
        run(*args, **kwargs)
    return raised.value


# ---------------------------------------------------------------- send_reauth_invites


@pytest.mark.django_db
def test_send_reauth_invites_invites_every_pending_case_once(campaign_cases):
    out, _ = run("send_reauth_invites")
    assert "3 invitations sent" in out
    assert len(mail.outbox) == 6  # a contact and an owner per tenant
    assert set(MigrationCase.objects.values_list("state", flat=True)) == {"invited"}
    assert AuditEvent.objects.filter(action="migration_notice.sent").count() == 3


@pytest.mark.django_db
def test_running_the_invite_campaign_twice_sends_nothing_the_second_time(campaign_cases):
    run("send_reauth_invites")
    mail.outbox.clear()
    out, _ = run("send_reauth_invites")
    assert "0 invitations sent" in out
    assert mail.outbox == []


@pytest.mark.django_db
def test_send_reauth_invites_dry_run_changes_and_sends_nothing(campaign_cases):
    out, _ = run("send_reauth_invites", "--dry-run")
    assert "dry run: 3 invitations would be sent" in out
    assert mail.outbox == []
    assert set(MigrationCase.objects.values_list("state", flat=True)) == {"pending"}


@pytest.mark.django_db
def test_send_reauth_invites_only_reaches_the_chosen_tenant_and_site(campaign_cases):
    first, second, third = campaign_cases
    run("send_reauth_invites", "--tenant", first.site.tenant.slug, "--site", first.site.cloud_id)
    run("send_reauth_invites", "--site", second.site.url)
    states = dict(MigrationCase.objects.values_list("pk", "state"))
    assert states == {first.pk: "invited", second.pk: "invited", third.pk: "pending"}


@pytest.mark.django_db
def test_an_unknown_tenant_is_a_usage_error_and_nothing_is_sent(campaign_cases):
    error = run_failing("send_reauth_invites", "--tenant", "no-such-tenant")
    assert error.returncode == 2 and "no-such-tenant" in str(error)
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_bad_format_is_a_usage_error():
    with pytest.raises(CommandError):
        run("send_reauth_invites", "--format", "xml")


@pytest.mark.django_db
def test_a_case_nobody_can_be_told_about_fails_with_exit_1_and_the_others_are_sent(
    campaign_cases,
):
    lonely = MigrationCaseFactory(site__tenant__contact_emails=[])
    error = run_failing("send_reauth_invites")
    assert error.returncode == 1
    assert "3 invitations sent, 1 failed" in str(error)
    assert lonely.site.url in str(error) and "no contact e-mail" in str(error)
    assert len(mail.outbox) == 6  # a contact and an owner per tenant


@pytest.mark.django_db
def test_send_reauth_invites_reports_in_json_and_csv(campaign_cases):
    out, err = run("send_reauth_invites", "--format", "json", "--dry-run")
    rows = json.loads(out)
    assert len(rows) == 3 and {r["result"] for r in rows} == {"would be done"}
    assert "3 invitations would be sent" in err
    out, _ = run("send_reauth_invites", "--format", "csv")
    assert next(iter(csv.DictReader(io.StringIO(out)))).keys() == {"item", "result", "reason"}


@pytest.mark.django_db
def test_exempt_and_completed_cases_are_never_invited(campaign_cases):
    MigrationCaseFactory(exempt=True)
    run("send_reauth_invites")
    assert MigrationCase.objects.get(state="exempt")
    assert len(mail.outbox) == 6  # a contact and an owner per tenant


# ---------------------------------------------------------------- send_reauth_reminders


@pytest.mark.django_db
def test_send_reauth_reminders_sends_the_due_reminder_once(campaign_cases):
    from datetime import timedelta

    from django.utils import timezone

    MigrationCase.objects.update(due_at=timezone.now() + timedelta(days=5))
    run("send_reauth_invites")
    mail.outbox.clear()
    out, _ = run("send_reauth_reminders")
    assert "3 reminders sent" in out and len(mail.outbox) == 6
    assert set(MigrationNotice.objects.filter(kind="reminder").values_list("key", flat=True)) == {
        "reminder:-7d"
    }
    mail.outbox.clear()
    out, _ = run("send_reauth_reminders")
    assert "0 reminders sent" in out and mail.outbox == []


@pytest.mark.django_db
def test_send_reauth_reminders_waits_for_the_cadence(campaign_cases):
    run("send_reauth_invites")  # due in 30 days: no reminder yet
    mail.outbox.clear()
    out, _ = run("send_reauth_reminders", "--dry-run")
    assert "0 reminders would be sent" in out and mail.outbox == []


# ---------------------------------------------------------------- migration_report


@pytest.mark.django_db
def test_migration_report_lists_every_case_in_each_format(campaign_cases):
    MigrationCaseFactory(failed=True)
    out, _ = run("migration_report")
    assert "4 cases: 1 failed, 3 pending" in out
    assert campaign_cases[0].site.url in out
    out, err = run("migration_report", "--format", "json")
    assert len(json.loads(out)) == 4 and "4 cases" in err
    out, _ = run("migration_report", "--format", "csv", "--state", "failed")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["state"] for r in rows] == ["failed"]
    assert rows[0]["reason"] == "the customer is not a site admin"


@pytest.mark.django_db
def test_migration_report_tells_re_consent_cases_apart(campaign_cases):
    reconsent = MigrationCaseFactory(
        site=JiraSiteFactory(), legacy_credential=None, purpose=MigrationCase.Purpose.RECONSENT
    )
    out, _ = run("migration_report", "--purpose", "reconsent", "--format", "json")
    rows = json.loads(out)
    assert [(r["site"], r["purpose"]) for r in rows] == [(reconsent.site.url, "reconsent")]
    out, _ = run("migration_report", "--purpose", "migration", "--format", "json")
    assert {r["purpose"] for r in json.loads(out)} == {"migration"}


@pytest.mark.django_db
def test_migration_report_can_show_only_overdue_cases(campaign_cases):
    from datetime import timedelta

    from django.utils import timezone

    late = MigrationCaseFactory(due_at=timezone.now() - timedelta(days=3))
    out, _ = run("migration_report", "--overdue", "--format", "json")
    rows = json.loads(out)
    assert [r["site"] for r in rows] == [late.site.url]
    assert rows[0]["overdue_days"] == 3


# ---------------------------------------------------------------- refresh_grants


@pytest.mark.django_db
def test_refresh_grants_refreshes_each_active_grant_through_the_sandbox(connected):
    grant, _ = connected()
    OAuthGrantFactory(needs_reauth=True)
    before = grant.refresh_token
    out, _ = run("refresh_grants")
    assert "1 grant refreshed" in out
    grant.refresh_from_db()
    assert grant.refresh_token != before


@pytest.mark.django_db
def test_refresh_grants_fails_with_exit_1_and_lists_a_grant_atlassian_refuses(
    connected, ops_sandbox
):
    grant, _ = connected()
    ops_sandbox.state.revoke_grant(ops_sandbox.admin)
    error = run_failing("refresh_grants")
    assert error.returncode == 1
    assert str(grant) in str(error) and "needs re-authorization" in str(error)
    grant.refresh_from_db()
    assert grant.status == OAuthGrant.Status.NEEDS_REAUTH


@pytest.mark.django_db
def test_refresh_grants_dry_run_sends_nothing_to_atlassian(connected, ops_sandbox):
    _grant, _ = connected()
    ops_sandbox.state.request_log.clear()
    out, _ = run("refresh_grants", "--dry-run")
    assert "dry run: 1 grant would be refreshed" in out
    assert ops_sandbox.state.requests_where(path="/oauth/token") == []


# ---------------------------------------------------------------- reconcile_sites


@pytest.mark.django_db
def test_reconcile_sites_passes_when_every_site_is_still_reached(connected):
    connected(sites=("acme", "globex"))
    out, _ = run("reconcile_sites")
    assert "1 grant reconciled" in out


@pytest.mark.django_db
def test_reconcile_sites_marks_a_lost_site_disconnected_and_exits_1(connected, ops_sandbox):
    _grant, (acme, globex) = connected(sites=("acme", "globex"))
    ops_sandbox.state.delete_site("globex")
    error = run_failing("reconcile_sites")
    assert error.returncode == 1 and globex.cloud_id in str(error)
    globex.refresh_from_db()
    acme.refresh_from_db()
    assert globex.status == JiraSite.Status.DISCONNECTED and acme.status == "active"


# ---------------------------------------------------------------- purge_legacy_credentials


def cut_over_case():
    """A case whose site moved to the vendor grant: its credential is verified as migrated."""
    case = MigrationCaseFactory(state=MigrationCase.State.CUT_OVER)
    site = case.site
    GrantSiteFactory(site=site, in_use=True)
    LegacyCredential.objects.filter(pk=case.legacy_credential_id).update(status="migrated")
    return case


@pytest.mark.django_db
def test_purge_only_shreds_credentials_verified_as_migrated():
    migrated = cut_over_case()
    pending = MigrationCaseFactory()
    out, _ = run("purge_legacy_credentials")
    assert "1 credential purged, 1 skipped: still used by a site" in out
    done = LegacyCredential.objects.get(pk=migrated.legacy_credential_id)
    assert done.status == "purged" and not done.has_secret
    assert LegacyCredential.objects.get(pk=pending.legacy_credential_id).has_secret


@pytest.mark.django_db
def test_purge_shreds_an_unverified_credential_only_when_confirmed_by_id():
    pending = MigrationCaseFactory()
    credential_id = str(pending.legacy_credential_id)
    run("purge_legacy_credentials", "--confirm", credential_id, "--reason", "customer left")
    credential = LegacyCredential.objects.get(pk=credential_id)
    assert credential.status == "purged" and not credential.has_secret
    event = AuditEvent.objects.get(action="legacy_credential.purged")
    assert event.summary["reason"] == "customer left"


@pytest.mark.django_db
def test_purge_dry_run_shreds_nothing():
    migrated = cut_over_case()
    out, _ = run("purge_legacy_credentials", "--dry-run")
    assert "dry run: 1 credential would be purged" in out
    assert LegacyCredential.objects.get(pk=migrated.legacy_credential_id).has_secret


@pytest.mark.django_db
def test_purge_refuses_an_unknown_confirmed_id_with_exit_2():
    cut_over_case()
    error = run_failing(
        "purge_legacy_credentials", "--confirm", "00000000-0000-0000-0000-000000000000"
    )
    assert error.returncode == 2
    assert not LegacyCredential.objects.filter(status="purged").exists()
    error = run_failing("purge_legacy_credentials", "--confirm", "not-a-uuid")
    assert error.returncode == 2


@pytest.mark.django_db
def test_commands_explain_what_they_select():
    from django.core.management import load_command_class

    for name in (
        "send_reauth_invites",
        "send_reauth_reminders",
        "migration_report",
        "refresh_grants",
        "purge_legacy_credentials",
        "reconcile_sites",
    ):
        command = load_command_class("ops", name)
        assert "Exit" in command.help or "exit" in command.help, name


@pytest.mark.django_db(transaction=True)
def test_a_refused_case_in_a_batch_rolls_back_alone_and_mail_leaves_after_commit():
    from tests.factories import MembershipFactory

    cases = [MigrationCaseFactory() for _ in range(3)]
    for case in cases:
        MembershipFactory(tenant=case.site.tenant)
    lonely = MigrationCaseFactory(site__tenant__contact_emails=[])
    mail.outbox.clear()
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("send_reauth_invites", stdout=out, stderr=err)
    states = dict(MigrationCase.objects.values_list("pk", "state"))
    assert [states[c.pk] for c in cases] == ["invited"] * 3
    assert states[lonely.pk] == "pending"
    assert not MigrationNotice.objects.filter(case=lonely).exists()
    assert len(mail.outbox) == 6


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.django_db
def test_the_progress_bar_is_drawn_only_on_a_terminal(campaign_cases):
    err = io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("send_reauth_invites", "--dry-run", stdout=Terminal(), stderr=err)
    assert "3/3" in err.getvalue()
    out, err = run("send_reauth_invites", "--dry-run")
    assert "3/3" not in err and "3/3" not in out


@pytest.mark.django_db(transaction=True)  # e-mails leave on commit, as from a shell
def test_e_mails_on_the_console_backend_go_to_stderr_never_into_the_report(
    campaign_cases, settings, capsys
):
    # Development prints e-mails on the console; from a shell, that is the command's stdout.
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    call_command("send_reauth_invites", "--format", "json")

    out, err = capsys.readouterr()
    assert len(json.loads(out)) == 3  # the report alone
    assert "Subject: Action needed" in err and "Subject:" not in out
    assert "3 invitations sent" in err


@pytest.mark.django_db
def test_one_item_is_counted_in_the_singular(campaign_cases):
    first, *_ = campaign_cases

    out, _ = run("send_reauth_invites", "--site", first.site.cloud_id, "--dry-run")
    assert "dry run: 1 invitation would be sent" in out
    out, _ = run("send_reauth_invites", "--site", first.site.cloud_id)
    assert out.strip().endswith("1 invitation sent")


# ---------------------------------------------------------------- totp_code (local demo)


@pytest.mark.django_db
def test_totp_code_prints_the_code_an_authenticator_app_would_show(settings):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret, validate_totp_code

    from tests.factories import UserFactory

    settings.DEBUG = True
    secret = generate_totp_secret()
    TOTP.activate(UserFactory(email="admin@example.com"), secret)

    out, _ = run("totp_code")
    from_secret, _ = run("totp_code", "--secret", secret.lower())

    code = out.split()[0]
    assert validate_totp_code(secret, code)
    assert from_secret.split()[0] == code
    assert "for admin@example.com" in out


@pytest.mark.django_db
def test_totp_code_refuses_outside_the_local_demo(settings):
    settings.DEBUG = False

    error = run_failing("totp_code", "--secret", "JBSWY3DPEHPK3PXP")

    assert error.returncode == 2 and "DEBUG" in str(error)
