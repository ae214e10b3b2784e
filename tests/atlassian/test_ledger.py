import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from atlassian import selectors
from atlassian.ledger import CallLedger
from atlassian.models import CallStat
from atlassian.ratelimit import PointsBudget

HOUR = datetime(2026, 3, 2, 10, tzinfo=UTC)
T = HOUR.timestamp() + 125  # 10:02:05


def _record(ledger, *, at=T, status="2xx", points=2, family="issue/{key}", **kw):
    ledger.record(
        site_cloud_id=kw.get("site", "cloud-a"),
        pool=kw.get("pool", "global"),
        credential_kind=kw.get("kind", "vendor_grant"),
        endpoint_family=family,
        status_class=status,
        points=points,
        at=at,
    )


def test_it_aggregates_calls_in_memory_per_key(call_ledger):
    for _ in range(3):
        _record(call_ledger)
    _record(call_ledger, status="429", points=0)
    _record(call_ledger, at=T + 3600)
    pending = {(k.hour, k.status_class): v for k, v in call_ledger.pending().items()}
    assert pending == {
        (HOUR, "2xx"): (3, 6),
        (HOUR, "429"): (1, 0),
        (HOUR + timedelta(hours=1), "2xx"): (1, 2),
    }


def test_it_counts_correctly_from_many_threads(call_ledger):
    def work():
        for _ in range(500):
            _record(call_ledger)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert list(call_ledger.pending().values()) == [(4000, 8000)]


@pytest.mark.django_db
def test_it_writes_a_batch_and_increments_on_the_next(call_ledger):
    _record(call_ledger)
    _record(call_ledger, family="search/jql", points=101)
    assert call_ledger.flush() == 2
    assert call_ledger.pending() == {}
    _record(call_ledger)
    _record(call_ledger)
    call_ledger.flush()
    row = CallStat.objects.get(endpoint_family="issue/{key}")
    assert (row.hour, row.site_cloud_id, row.pool, row.credential_kind) == (
        HOUR,
        "cloud-a",
        "global",
        "vendor_grant",
    )
    assert (row.requests, row.points) == (3, 6)
    assert CallStat.objects.get(endpoint_family="search/jql").points == 101
    assert CallStat.objects.count() == 2


@pytest.mark.django_db
def test_it_flushes_on_its_own_after_a_batch_of_requests():
    ledger = CallLedger(batch_size=5, interval_seconds=10**9, budget=lambda: None)
    for _ in range(12):
        _record(ledger)
    assert CallStat.objects.get().requests == 10
    assert list(ledger.pending().values()) == [(2, 4)]


@pytest.mark.django_db
def test_it_writes_more_rows_than_fit_in_one_statement(call_ledger):
    for i in range(250):
        _record(call_ledger, site=f"cloud-{i}")
    assert call_ledger.flush() == 250
    assert CallStat.objects.count() == 250


@pytest.mark.django_db
def test_it_feeds_spent_points_into_the_budget():
    budget = PointsBudget()
    ledger = CallLedger(batch_size=10**9, interval_seconds=10**9, budget=lambda: budget)
    _record(ledger, points=40)
    _record(ledger, points=2, pool="tenant:7")
    _record(ledger, points=0, pool="", family="oauth/token", kind="vendor_grant", site="")
    ledger.flush()
    assert budget.usage("global", hour=HOUR) == (0, 40)
    assert budget.usage("tenant:7", hour=HOUR) == (0, 2)


def test_it_keeps_the_counts_when_the_database_refuses(call_ledger):
    # No django_db mark: pytest-django blocks database access, like a database outage.
    _record(call_ledger)
    assert call_ledger.flush(quiet=True) == 0
    assert list(call_ledger.pending().values()) == [(1, 2)]
    with pytest.raises(RuntimeError):
        call_ledger.flush()
    assert list(call_ledger.pending().values()) == [(1, 2)]


@pytest.mark.django_db
def test_the_selectors_report_kinds_pools_and_legacy_weeks(call_ledger):
    _record(call_ledger, points=10)
    _record(call_ledger, kind="legacy_api_token", pool="api-token:acme", points=3)
    _record(call_ledger, kind="legacy_api_token", pool="api-token:acme", at=T + 7 * 86400)
    _record(call_ledger, kind="none", pool="", family="serverInfo", points=1)
    call_ledger.flush()
    since = HOUR - timedelta(days=1)
    assert selectors.calls_per_credential_kind(since=since) == {
        "vendor_grant": 1,
        "legacy_api_token": 2,
        "none": 1,
    }
    per_pool = selectors.points_per_hour_per_pool(since=since, until=HOUR + timedelta(hours=1))
    assert [(r["pool"], r["points"]) for r in per_pool] == [("api-token:acme", 3), ("global", 10)]
    weeks = selectors.legacy_calls_per_week(since=since)
    assert [r["requests"] for r in weeks] == [1, 1]
    assert weeks[1]["week"] - weeks[0]["week"] == timedelta(days=7)


@pytest.mark.django_db
def test_the_prune_command_deletes_rows_older_than_the_retention(call_ledger):
    now = timezone.now().timestamp()
    _record(call_ledger, at=now - 500 * 86400)
    _record(call_ledger, at=now - 10 * 86400)
    _record(call_ledger, at=now)
    call_ledger.flush()
    call_command("prune_call_ledger", "--dry-run")
    assert CallStat.objects.count() == 3
    call_command("prune_call_ledger")
    assert CallStat.objects.count() == 2
    call_command("prune_call_ledger", "--days", "5")
    assert CallStat.objects.count() == 1


@pytest.mark.django_db
def test_the_process_ledger_is_written_at_the_end_of_every_celery_task():
    from celery.signals import task_postrun

    from atlassian.ledger import ledger

    ledger.discard()
    _record(ledger, family="myself")
    task_postrun.send(sender=None, task_id="t", task=None, args=(), kwargs={}, retval=None)
    assert CallStat.objects.get(endpoint_family="myself").requests == 1
    assert ledger.pending() == {}


@pytest.mark.django_db
def test_closing_a_client_writes_the_ledger(call_ledger):
    from atlassian.client import AuthClient

    _record(call_ledger, family="serverInfo")
    AuthClient(ledger=call_ledger).close()
    assert CallStat.objects.get(endpoint_family="serverInfo").requests == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_flushes_add_up_without_deadlocks(on_postgres):
    from django.db import DatabaseError, connection

    errors = []

    def worker(n):
        ledger = CallLedger(batch_size=10**9, interval_seconds=10**9, budget=lambda: None)
        try:
            for round_ in range(5):
                # Overlapping keys in opposite orders.
                sites = [f"cloud-{i}" for i in range(20)]
                for site in sites if (n + round_) % 2 else reversed(sites):
                    _record(ledger, site=site)
                ledger.flush()
        except DatabaseError as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert CallStat.objects.count() == 20
    assert {r.requests for r in CallStat.objects.all()} == {30}
