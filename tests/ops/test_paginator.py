"""Changelists on big tables use PostgreSQL's estimate instead of COUNT(*)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ops import paginator
from tenants.models import Tenant
from tests.factories import TenantFactory


@pytest.mark.django_db
def test_small_tables_are_counted_exactly():
    TenantFactory.create_batch(3)
    assert paginator.EstimatedCountPaginator(Tenant.objects.all(), 10).count == 3


@pytest.mark.django_db
def test_above_the_threshold_the_count_is_postgresqls_estimate(
    on_postgres, monkeypatch, superuser_client
):
    monkeypatch.setattr(paginator, "ESTIMATE_ABOVE", 5)
    TenantFactory.create_batch(30)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tenants_tenant")
    assert paginator.table_estimate(Tenant) == 30
    assert paginator.EstimatedCountPaginator(Tenant.objects.all(), 10).count == 30
    filtered = Tenant.objects.filter(slug__startswith="customer-")
    assert paginator.EstimatedCountPaginator(filtered, 10).count > 0
    with CaptureQueriesContext(connection) as captured:
        response = superuser_client.get(reverse("admin:tenants_tenant_changelist"))
    assert response.status_code == 200
    counts = [q["sql"] for q in captured if q["sql"].startswith("SELECT COUNT(*)")]
    assert counts == []
