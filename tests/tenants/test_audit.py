import pytest
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from tenants.audit import build_event, record_event
from tenants.models import AuditEvent
from tests.factories import AuditEventFactory, JiraSiteFactory

pytestmark = pytest.mark.django_db


def test_it_records_who_did_what_to_which_object_from_which_request(tenant, owner):
    site = JiraSiteFactory(tenant=tenant)
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.9")
    request.request_id = "req-42"
    with transaction.atomic():
        event = record_event(
            actor=owner,
            action="site.created",
            target=site,
            tenant=tenant,
            summary={"cloud_id": site.cloud_id},
            request=request,
        )
    event.refresh_from_db()
    assert (event.actor, event.tenant, event.action) == (owner, tenant, "site.created")
    assert event.target_content_type.model == "jirasite"
    assert event.target_object_id == str(site.pk) and event.target_repr == site.url
    assert (event.ip_address, event.request_id) == ("203.0.113.9", "req-42")


def test_without_a_request_it_stores_no_ip_or_request_id(tenant):
    event = record_event(actor=None, action="tenant.updated", target=tenant, tenant=tenant)
    assert event.ip_address is None and event.request_id == "" and event.actor is None


@pytest.mark.parametrize("key", ["refresh_token", "client_secret", "api_token", "password"])
def test_it_refuses_a_summary_that_names_a_secret(tenant, key):
    with pytest.raises(ValueError, match="must not carry secrets"):
        record_event(actor=None, action="x.y", target=tenant, summary={"nested": {key: "value"}})


def test_the_orm_refuses_to_change_or_delete_an_event():
    event = AuditEventFactory()
    event.action = "rewritten"
    with pytest.raises(AuditEvent.AppendOnly):
        event.save()
    with pytest.raises(AuditEvent.AppendOnly):
        event.delete()
    with pytest.raises(AuditEvent.AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(action="rewritten")
    with pytest.raises(AuditEvent.AppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().action == "tenant.updated"


@pytest.mark.postgres
def test_the_database_refuses_to_change_or_delete_an_event_on_postgres(on_postgres):
    event = AuditEventFactory()
    for sql in (
        "UPDATE tenants_auditevent SET action = 'rewritten' WHERE id = %s",
        "DELETE FROM tenants_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get().action == "tenant.updated"


def test_events_built_for_a_bulk_insert_carry_what_record_event_writes(tenant, owner):
    site = JiraSiteFactory(tenant=tenant)
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.7")
    request.request_id = "req-7"
    built = [
        build_event(
            actor=owner,
            action="site.created",
            target=site,
            tenant=tenant,
            summary={"n": n},
            request=request,
        )
        for n in range(2)
    ]
    assert AuditEvent.objects.count() == 0  # built, not saved
    AuditEvent.objects.bulk_create(built)
    rows = list(AuditEvent.objects.order_by("summary__n"))
    assert [r.summary for r in rows] == [{"n": 0}, {"n": 1}]
    for row in rows:
        assert (row.actor, row.tenant, row.target_repr) == (owner, tenant, site.url)
        assert (row.ip_address, row.request_id) == ("203.0.113.7", "req-7")
    with pytest.raises(ValueError, match="must not carry secrets"):
        build_event(actor=None, action="x", target=site, summary={"refresh_token": "t"})
