"""A site that stops being protected is told once, then once more when it recovers; staff get a
signed webhook; a paused site's e-mail carries a working re-authorize link."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from backups.models import BackupJob, Incident, SiteProtection
from tests.backups.conftest import backup
from tests.protection.conftest import client_of, protected_site, sweep

pytestmark = pytest.mark.django_db(transaction=True)


def _fail_next_backup(sandbox, settings):
    # Every Jira request answers 500 until cleared; one transient failure fails the job.
    settings.BACKUPS_MAX_TRANSIENT_FAILURES = 1
    sandbox.state.faults.error_rate(1.0, statuses=(500,), seed=1, path_prefix="/ex/jira/")


def test_a_failing_backup_tells_the_admins_once_a_second_failure_that_day_not_and_the_next_success_once(
    backup_env, customer, settings, fast_retries
):
    site = protected_site(backup_env, customer)
    assert backup(site).status == BackupJob.Status.SUCCEEDED
    sweep()
    assert SiteProtection.objects.get(site=site).state == "protected"
    mail.outbox.clear()

    _fail_next_backup(backup_env, settings)
    first = backup(site, BackupJob.Kind.INCREMENTAL)
    assert first.status == BackupJob.Status.FAILED, first.status_reason
    sweep()

    assert SiteProtection.objects.get(site=site).state == "failing"
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@acme.test", "owner@acme.test"]
    message = mail.outbox[0]
    assert message.subject == "Backups of acme are failing"
    assert "Reason: gave up after 1 transient failures" in message.body
    assert "try again at the next scheduled run" in message.body
    html = message.alternatives[0][0]
    assert "are failing" in html and "/t/acme-corp/protection/" in html
    incident = Incident.objects.get(site=site)
    assert (incident.kind, incident.status) == ("failing", "open")

    mail.outbox.clear()
    second = backup(site, BackupJob.Kind.INCREMENTAL)
    assert second.status == BackupJob.Status.FAILED
    sweep()
    assert mail.outbox == []  # the same incident: nobody is told twice
    assert Incident.objects.filter(site=site).count() == 1

    backup_env.state.faults.clear()
    assert backup(site, BackupJob.Kind.INCREMENTAL).status == BackupJob.Status.SUCCEEDED
    sweep()

    assert SiteProtection.objects.get(site=site).state == "protected"
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@acme.test", "owner@acme.test"]
    assert mail.outbox[0].subject == "Backups of acme are working again"
    incident.refresh_from_db()
    assert incident.status == "closed" and incident.recovery_notified_at is not None

    # Failing again the same day opens a new incident, but the day's e-mail was already sent.
    mail.outbox.clear()
    _fail_next_backup(backup_env, settings)
    backup(site, BackupJob.Kind.INCREMENTAL)
    sweep()
    assert mail.outbox == []
    newest = Incident.objects.filter(site=site).order_by("-opened_at").first()
    assert newest.status == "open" and newest.notified_at is None
    # ... and its recovery is not announced either (its opening never was).
    backup_env.state.faults.clear()
    backup(site, BackupJob.Kind.INCREMENTAL)
    sweep()
    assert mail.outbox == []


def _reauthorize_link_works(message, customer, sandbox, settings) -> None:
    link = re.search(r"(https?://\S+/connect/)", message.body).group(1)
    assert link == f"{settings.SITE_URL}/t/acme-corp/connect/"
    # The link works: an owner who follows it sees the connect page, whose button sends them
    # to Atlassian's consent screen.
    owner = client_of(customer.owner)
    page = owner.get(link.removeprefix(settings.SITE_URL))
    assert page.status_code == 200
    assert b"Continue to Atlassian" in page.content
    response = owner.post(link.removeprefix(settings.SITE_URL))
    assert response.status_code == 302
    assert response["Location"].startswith(f"{sandbox.url}/authorize?")


@pytest.fixture
def consent_ready(backup_env, settings):
    from tests.connect.conftest import TEST_REDIRECT_URI

    app = backup_env.state.clients[backup_env.client_id]
    if TEST_REDIRECT_URI not in app.redirect_uris:
        app.redirect_uris.append(TEST_REDIRECT_URI)
    settings.ATLASSIAN_REDIRECT_URI = TEST_REDIRECT_URI
    return backup_env


def test_a_site_paused_for_a_missing_permission_gets_one_email_with_a_working_reauthorize_link(
    consent_ready, customer, settings
):
    site = protected_site(consent_ready, customer)
    mail.outbox.clear()
    consent_ready.state.faults.error_rate(1.0, statuses=(403,), seed=1, path_prefix="/ex/jira/")

    job = backup(site)
    assert job.status == BackupJob.Status.FAILED and job.status_reason.startswith("permission")
    sweep()

    row = SiteProtection.objects.get(site=site)
    assert (row.state, row.detail) == ("paused", "permission")
    assert len({m.to[0] for m in mail.outbox}) == len(mail.outbox) == 2  # owner and admin
    message = mail.outbox[0]
    assert message.subject == "Action needed: backups of acme are paused"
    assert "a permission is missing" in message.body
    assert "/t/acme-corp/connect/" in message.alternatives[0][0]
    _reauthorize_link_works(message, customer, consent_ready, settings)


def test_a_revoked_grant_pauses_the_site_with_exactly_one_email_carrying_a_working_link(
    consent_ready, customer, settings
):
    from tenants.models import OAuthGrant

    site = protected_site(consent_ready, customer)
    mail.outbox.clear()
    consent_ready.state.revoke_grant(consent_ready.state.admin)
    # The backup's first token is a refresh, which Atlassian answers invalid_grant.
    OAuthGrant.objects.filter(pk=site.grant_id).update(
        access_token_expires_at=timezone.now() - timedelta(minutes=1)
    )

    job = backup(site)
    assert job.status == BackupJob.Status.PAUSED_NEEDS_REAUTH
    sweep()

    row = SiteProtection.objects.get(site=site)
    assert (row.state, row.detail) == ("paused", "reauth")
    # The grant's own notice (tenants) is the one message; protection does not repeat it, but
    # counts the customer as told, so the recovery is announced.
    assert len(mail.outbox) == 1
    assert Incident.objects.get(site=site).notified_at is not None
    _reauthorize_link_works(mail.outbox[0], customer, consent_ready, settings)
    grant = site.grant
    grant.refresh_from_db()
    for secret in filter(None, [grant.access_token, grant.refresh_token]):
        assert secret not in mail.outbox[0].body


class _Receiver(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.seen
    server.shutdown()
    server.server_close()


def test_staff_get_each_incident_on_a_signed_slack_compatible_webhook(
    backup_env, customer, settings, receiver
):
    url, seen = receiver
    settings.PROTECTION_WEBHOOK_URL = url
    settings.PROTECTION_WEBHOOK_SECRET = "whsec-test-0123456789"
    site = protected_site(backup_env, customer)
    # Overdue: its last success is far behind its window.
    site.backup_schedule.__class__.objects.filter(pk=site.backup_schedule.pk).update(
        overdue_at=timezone.now() - timedelta(hours=1)
    )

    sweep()

    assert len(seen) == 1
    headers, body = seen[0]
    expected = hmac.new(b"whsec-test-0123456789", body, hashlib.sha256).hexdigest()
    assert headers["X-Protection-Signature"] == f"sha256={expected}"
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["event"] == "opened"
    assert payload["incident"]["kind"] == "overdue"
    assert payload["site"]["url"] == site.url and payload["tenant"] == "acme-corp"
    assert "Backup overdue" in payload["text"] and site.url in payload["text"]
    assert settings.PROTECTION_WEBHOOK_SECRET not in body.decode()
    # Staff see it on the dashboard too.
    from django.urls import reverse

    from tests.conftest import mfa_client
    from tests.factories import UserFactory

    settings.OPS_DASHBOARD_CACHE_SECONDS = 0
    staff = mfa_client(UserFactory(is_staff=True, is_superuser=True))
    page = staff.get(reverse("admin:ops_operations_changelist"))
    assert page.context["protection"]["incidents_count"] == 1
    assert [i.site_id for i in page.context["protection"]["incidents"]] == [site.pk]
    assert site.url in page.content.decode()


def test_a_webhook_that_is_down_does_not_undo_the_incident(backup_env, customer, settings):
    settings.PROTECTION_WEBHOOK_URL = "http://127.0.0.1:9/unreachable"
    settings.PROTECTION_WEBHOOK_SECRET = "s"
    site = protected_site(backup_env, customer)
    site.backup_schedule.__class__.objects.filter(pk=site.backup_schedule.pk).update(
        overdue_at=timezone.now() - timedelta(hours=1)
    )

    sweep()

    assert Incident.objects.get(site=site).status == "open"
