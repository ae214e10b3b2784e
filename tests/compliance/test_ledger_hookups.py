"""The call ledger is written wherever work ends (web request, Celery task, worker child
shutdown), counts on the clock it is given, and can be switched off for the benchmark only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from atlassian.client import JiraClient
from atlassian.ledger import CallLedger, ledger
from atlassian.models import CallStat

HOUR = datetime(2026, 2, 3, 4, tzinfo=UTC)


@pytest.fixture
def process_ledger():
    ledger.discard()
    yield ledger
    ledger.discard()


def count_one(target, family="myself"):
    target.record(
        site_cloud_id="cloud-x",
        pool="global",
        credential_kind="vendor_grant",
        endpoint_family=family,
        status_class="2xx",
        points=2,
    )


@pytest.mark.django_db
def test_the_end_of_a_web_request_writes_the_ledger(process_ledger, client):
    count_one(process_ledger, family="accessible-resources")
    client.get("/healthz")
    assert CallStat.objects.get(endpoint_family="accessible-resources").requests == 1
    assert process_ledger.pending() == {}


@pytest.mark.django_db
def test_a_worker_child_shutting_down_writes_the_ledger(process_ledger):
    from celery.signals import worker_process_shutdown

    count_one(process_ledger, family="serverInfo")
    worker_process_shutdown.send(sender=None, pid=1, exitcode=0)
    assert CallStat.objects.get(endpoint_family="serverInfo").requests == 1


@pytest.mark.django_db
def test_a_celery_task_end_writes_the_ledger(process_ledger):
    from celery.signals import task_postrun

    count_one(process_ledger, family="project/search")
    task_postrun.send(sender=None, task_id="t", task=None, args=(), kwargs={}, retval=None)
    assert CallStat.objects.get(endpoint_family="project/search").points == 2


def test_a_request_with_nothing_buffered_touches_no_database(process_ledger):
    # No django_db mark: any database access would raise here.
    from atlassian.apps import _flush_ledger

    _flush_ledger(sender=None)


@pytest.mark.django_db
def test_the_ledger_counts_hours_on_the_clock_it_is_given():
    timed = CallLedger(budget=lambda: None, clock=lambda: HOUR.timestamp() + 1799)
    count_one(timed)
    timed.flush()
    assert CallStat.objects.get().hour == HOUR


@pytest.mark.django_db
def test_switched_off_it_records_nothing(settings, sandbox, process_ledger):
    settings.ATLASSIAN_LEDGER_ENABLED = False
    with JiraClient.anonymous(f"{sandbox.url}/site/acme") as client:
        client.server_info()
    assert process_ledger.pending() == {}
    assert CallStat.objects.count() == 0
    settings.ATLASSIAN_LEDGER_ENABLED = True
    with JiraClient.anonymous(f"{sandbox.url}/site/acme") as client:
        client.server_info()
    assert CallStat.objects.get().endpoint_family == "serverInfo"
