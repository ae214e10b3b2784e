"""The sites changelist reads its page as the first entries of an index in the admin's order
(``url``, then ``-pk``), unfiltered and filtered by status, instead of sorting every site."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import JiraSiteFactory


def page_query(client, query: str = "") -> str:
    """The changelist's SELECT of the listed sites, in the page's order (limited to a page when
    there is more than one)."""
    url = reverse("admin:tenants_jirasite_changelist") + query
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    (sql,) = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith('SELECT "tenants_jirasite"."id", "tenants_jirasite"."tenant_id"')
        and " ORDER BY " in q["sql"]
    ]
    return sql


def plan_without_sorting(sql: str) -> str:
    """The plan when sorting and full scans cost the planner dearly: with an index in the
    page's order it reads that index; without one it still has to sort."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("query", "index"),
    [("", "jirasite_url"), ("?status__exact=needs_reauth", "jirasite_status_url")],
)
def test_the_sites_page_is_read_in_order_from_an_index(on_postgres, superuser_client, query, index):
    for n in range(3):
        JiraSiteFactory(url=f"https://same{n % 2}.atlassian.net", needs_reauth=n == 1)

    sql = page_query(superuser_client, query)

    assert 'ORDER BY "tenants_jirasite"."url" ASC, "tenants_jirasite"."id" DESC' in sql
    plan = plan_without_sorting(sql)
    assert f"Index Scan using {index} on tenants_jirasite" in plan, plan
    assert "Sort" not in plan, plan
