"""The one failure→state map of the job driver, row by row, for a backup and for a restore
(``engine`` runs each test once per engine; see ``tests/backups/engines.py``)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from atlassian.endpoints import family_for_path
from atlassian.ratelimit import clear_shared_state, default_rate_limiter
from atlassian.retry import RetryPolicy
from backups.engine.runner import run_job
from backups.exceptions import BackupRefused, RestoreRefused
from backups.models import BackupJob
from backups.services import backup_job_enqueue
from tenants.access import jira_client_for_site
from tenants.models import JiraSite, OAuthGrant
from tenants.services.tenants import tenant_suspend
from tests.backups.conftest import backup, connect_site

SUCCEEDED = "succeeded"


def no_retry_client_for_site(site):
    """The production factory, with the client's own retries off: every 5xx, dropped
    connection or unreadable body reaches the job driver."""
    return jira_client_for_site(
        site, retry=RetryPolicy(base=0.01, cap=0.02, max_retries=0), timeout=5
    )


@pytest.fixture
def no_client_retries(settings):
    settings.BACKUPS_CLIENT_FACTORY = "tests.backups.test_failure_map.no_retry_client_for_site"


def grant_of(site: JiraSite) -> OAuthGrant:
    site.refresh_from_db()
    return OAuthGrant.objects.get(pk=site.grant_id)


# -- 401: refresh once, or re-authorization with one notice -----------------------------------


def test_a_portal_clock_two_hours_behind_atlassian_costs_one_refresh_and_no_notice(
    engine, django_capture_on_commit_callbacks
):
    """Issue 16's acceptance: Atlassian's clock two hours ahead of ours, so the access token we
    hold as valid answers 401. The next incremental backup (and the next restore) refresh the
    token once and succeed; nobody is asked to re-authorize."""
    if engine.kind == "backup":
        assert backup(engine.site).status == SUCCEEDED  # so that the next one is incremental
    engine.sandbox.state.clock.advance(hours=2)
    engine.sandbox.state.request_log.clear()
    job = engine.start(kind=BackupJob.Kind.INCREMENTAL)
    if engine.kind == "backup":
        assert job.kind == BackupJob.Kind.INCREMENTAL

    with django_capture_on_commit_callbacks(execute=True):
        job = engine.run_until_it_ends(job)

    assert job.status == SUCCEEDED, job.status_reason
    assert engine.token_refreshes() == 1
    assert [r.status for r in engine.requests_to_site()].count(401) == 1
    assert mail.outbox == []
    assert grant_of(engine.site).status == OAuthGrant.Status.ACTIVE
    assert engine.site.status == JiraSite.Status.ACTIVE


def test_a_token_atlassian_invalidated_early_is_refreshed_once_and_the_job_succeeds(
    engine, django_capture_on_commit_callbacks
):
    engine.sandbox.state.faults.fail_next_requests(1, status=401, path_prefix=engine.api_prefix)
    job = engine.start()

    with django_capture_on_commit_callbacks(execute=True):
        job = engine.run_until_it_ends(job)

    assert job.status == SUCCEEDED, job.status_reason
    assert engine.token_refreshes() == 1
    assert mail.outbox == []


def test_a_401_again_with_the_fresh_token_pauses_the_job_with_exactly_one_notice(
    engine, django_capture_on_commit_callbacks
):
    engine.sandbox.state.faults.fail_next_requests(2, status=401, path_prefix=engine.api_prefix)
    job = engine.start()

    with django_capture_on_commit_callbacks(execute=True):
        job = engine.run_until_it_ends(job)

    assert job.status == engine.model.Status.PAUSED_NEEDS_REAUTH
    assert "re-authorization" in job.status_reason
    assert engine.token_refreshes() == 1
    assert grant_of(engine.site).status == OAuthGrant.Status.NEEDS_REAUTH
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["owner@acme.test"]


def test_a_revoked_grant_pauses_the_job_with_exactly_one_notice(
    engine, django_capture_on_commit_callbacks
):
    job = engine.start()
    engine.sandbox.state.revoke_grant(engine.sandbox.state.admin)

    with django_capture_on_commit_callbacks(execute=True):
        job = engine.run_until_it_ends(job)
        assert engine.run_slice(job).state == "busy"  # paused: nothing runs, nothing is sent

    assert job.status == engine.model.Status.PAUSED_NEEDS_REAUTH
    assert engine.token_refreshes() == 1  # the refresh that answered invalid_grant
    assert grant_of(engine.site).status == OAuthGrant.Status.NEEDS_REAUTH
    assert engine.site.status == JiraSite.Status.NEEDS_REAUTH
    assert len(mail.outbox) == 1


# -- 403, 404 -----------------------------------------------------------------------------------


def test_a_403_fails_the_job_with_a_reason_naming_the_missing_permission(engine):
    refused, permission = {
        "backup": ("rest/api/3/search/jql", "BROWSE_PROJECTS"),
        "restore": ("rest/api/3/issue/bulk", "CREATE_ISSUES"),
    }[engine.kind]
    engine.sandbox.state.faults.error_rate(
        1.0, statuses=(403,), path_prefix=engine.api_prefix + refused
    )

    job = engine.run_until_it_ends(engine.start())

    assert job.status == engine.model.Status.FAILED
    assert job.status_reason.startswith(f"permission missing: {permission}"), job.status_reason
    assert job.finished_at is not None


def test_a_site_atlassian_no_longer_serves_fails_the_job_and_disconnects_the_site(engine):
    job = engine.start()
    engine.sandbox.state.delete_site(engine.site.name)

    job = engine.run_until_it_ends(job)

    assert job.status == engine.model.Status.FAILED
    assert job.status_reason.startswith("site deleted"), job.status_reason
    engine.site.refresh_from_db()
    assert engine.site.status == JiraSite.Status.DISCONNECTED


# -- 429 -----------------------------------------------------------------------------------------


def test_a_quota_429_makes_every_job_of_the_pool_wait_for_the_reset(engine, backup_env):
    clock = backup_env.state.clock
    if 3600 - clock.time() % 3600 < 180:
        clock.advance(minutes=4)  # not in the last minutes of the hour: the reset is far
    other = connect_site(backup_env, "globex")  # another tenant, same (Tier 1) pool
    backup_env.state.set_quota(tier1=1)
    job = engine.start()

    outcome = engine.run_slice(job)

    assert outcome.state == "requeue"
    assert "quota" in outcome.reason
    assert outcome.countdown > 120
    assert job.status == engine.model.Status.RUNNING
    assert job.not_before > timezone.now()
    assert job.attempts == 0  # waiting is not a failure
    # Another tenant's job of the same pool sends nothing until the reset.
    backup_env.state.request_log.clear()
    other_job, _ = backup_job_enqueue(site=other, kind=BackupJob.Kind.FULL, acting_user=None)
    assert run_job(other_job.pk).state == "requeue"
    assert backup_env.state.request_log.records == []

    backup_env.state.set_quota(tier1=65_000)
    clear_shared_state()  # as the reset would
    assert engine.run_until_it_ends(job).status == SUCCEEDED


def test_a_burst_429_slows_that_endpoint_only(engine, backup_env):
    job = engine.start()
    backup_env.state.faults.error_rate(
        1.0, statuses=(429,), path_prefix=engine.api_prefix, retry_after=120
    )

    outcome = engine.run_slice(job)

    assert outcome.state == "requeue"
    assert "burst" in outcome.reason
    assert 100 < outcome.countdown <= 160  # Retry-After, with the limiter's jitter
    [refused] = [r for r in engine.requests_to_site() if r.status == 429]
    family = family_for_path(refused.path)
    limiter = default_rate_limiter()
    held, _ = limiter.wait_before(
        pool=None, site=engine.site.cloud_id, family=family, method=refused.method
    )
    free, _ = limiter.wait_before(
        pool=None, site=engine.site.cloud_id, family="serverInfo", method="GET"
    )
    assert held > 100
    assert free == 0
    backup_env.state.faults.clear()
    clear_shared_state()
    assert engine.run_until_it_ends(job).status == SUCCEEDED


# -- transient failures: bounded, "N in a row", reset on progress --------------------------------


def test_server_errors_fail_the_job_after_n_in_a_row_with_the_reason(
    engine, no_client_retries, settings
):
    settings.BACKUPS_MAX_TRANSIENT_FAILURES = 3
    engine.sandbox.state.faults.error_rate(1.0, statuses=(503,), path_prefix=engine.api_prefix)

    job = engine.run_until_it_ends(engine.start())

    assert [o.state for o in job.outcomes] == ["requeue", "requeue", "failed"]
    assert job.status == engine.model.Status.FAILED
    assert job.status_reason.startswith("gave up after 3 transient failures in a row; last: ")
    assert "ApiServerError" in job.status_reason
    assert job.attempts == 3


def test_transient_failures_separated_by_progress_never_add_up_to_a_failure(
    engine, no_client_retries, settings
):
    """5xx, a dropped connection, a timeout and unreadable 2xx bodies (an HTML maintenance
    page, truncated JSON), each after a unit of progress: more failures in total than the
    limit, never two in a row."""
    settings.BACKUPS_MAX_TRANSIENT_FAILURES = 2
    faults = engine.sandbox.state.faults
    job = engine.start()
    causes = [
        lambda: faults.fail_next_requests(1, status=502, path_prefix=engine.api_prefix),
        lambda: faults.drop_connections(1, path_prefix=engine.api_prefix),
        lambda: faults.slow(6, path_prefix=engine.api_prefix),  # the client waits 5 s
        lambda: faults.garble_next_responses(1, "html", path_prefix=engine.api_prefix),
        lambda: faults.garble_next_responses(1, "truncated", path_prefix=engine.api_prefix),
    ]
    failed, reasons = 0, []
    for cause in causes:
        cause()
        outcome = engine.run_slice(job)
        faults.clear()
        if outcome.state == "requeue" and job.attempts == 1:
            failed += 1
            reasons.append(job.status_reason.split(": ")[1])
        engine.run_slice(job, slice_seconds=0)  # one unit of progress
        assert job.attempts == 0, job.status_reason

    job = engine.run_until_it_ends(job)

    assert failed == len(causes)
    assert reasons == [
        "ApiServerError",
        "ApiHostError",
        "ApiTimeoutError",
        "ApiBadResponse",
        "ApiBadResponse",
    ]
    assert job.status == SUCCEEDED, job.status_reason


def _inject_database_errors(table: str) -> str:
    """A trigger that makes every insert into ``table`` fail in the database itself."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION inject_db_error() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'injected database failure'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER inject_db_error BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION inject_db_error()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER inject_db_error BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'injected database failure'); END"
            )
    return table


def _remove_database_errors(table: str) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER inject_db_error ON {table}")
            cursor.execute("DROP FUNCTION inject_db_error()")
        else:
            cursor.execute("DROP TRIGGER inject_db_error")


def test_database_errors_are_retried_then_fail_the_job_with_the_reason(engine, settings):
    settings.BACKUPS_MAX_TRANSIENT_FAILURES = 2
    table = {"backup": "backups_checkpoint", "restore": "backups_restoreitem"}[engine.kind]
    job = engine.start()
    _inject_database_errors(table)
    try:
        first = engine.run_slice(job)
        assert (first.state, job.attempts) == ("requeue", 1)
        assert "injected database failure" in job.status_reason
        job = engine.run_until_it_ends(job)
    finally:
        _remove_database_errors(table)

    assert job.status == engine.model.Status.FAILED
    assert job.status_reason.startswith("gave up after 2 transient failures in a row")
    assert "injected database failure" in job.status_reason


def test_a_job_recovers_from_a_database_error_on_the_next_slice(engine):
    table = {"backup": "backups_checkpoint", "restore": "backups_restoreitem"}[engine.kind]
    job = engine.start()
    _inject_database_errors(table)
    try:
        assert engine.run_slice(job).state == "requeue"
    finally:
        _remove_database_errors(table)

    job = engine.run_until_it_ends(job)

    assert job.status == SUCCEEDED, job.status_reason
    assert job.attempts == 0


# -- suspended tenants -----------------------------------------------------------------------------


def test_a_suspended_tenant_gets_no_new_job(engine):
    tenant_suspend(tenant=engine.site.tenant, reason="unpaid invoice", acting_user=None)
    before = engine.model.objects.count()

    with pytest.raises((BackupRefused, RestoreRefused), match="suspended"):
        engine.start()

    assert engine.model.objects.count() == before


def test_a_job_queued_before_the_suspension_ends_cancelled_naming_it(engine):
    job = engine.start()
    tenant_suspend(tenant=engine.site.tenant, reason="unpaid invoice", acting_user=None)
    engine.sandbox.state.request_log.clear()

    outcome = engine.run_slice(job)

    assert outcome.state == "cancelled"
    assert job.status == engine.model.Status.CANCELLED
    assert "suspended" in job.status_reason and "unpaid invoice" in job.status_reason
    assert job.finished_at is not None
    assert engine.requests_to_site() == []
