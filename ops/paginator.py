"""A changelist paginator that does not count huge tables exactly.

``SELECT COUNT(*)`` over a million backup jobs costs a sequential scan on every changelist
page. Above ``ESTIMATE_ABOVE`` rows (PostgreSQL's own statistic, ``pg_class.reltuples``) the
count is the planner's estimate instead: the table's reltuples when unfiltered, the plan's row
estimate when filtered. Small tables, and SQLite, are counted exactly.
"""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

ESTIMATE_ABOVE = 20_000


def table_estimate(model, using: str = "default") -> int | None:
    """PostgreSQL's estimate of the rows in ``model``'s table (None elsewhere, or unknown)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [model._meta.db_table],
        )
        row = cursor.fetchone()
    if row is None or row[0] is None or row[0] < 0:
        return None
    return int(row[0])


def plan_estimate(queryset) -> int | None:
    """The planner's row estimate for ``queryset`` (PostgreSQL)."""
    connection = connections[queryset.db]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        model = getattr(queryset, "model", None)
        if model is None:
            return super().count
        estimate = table_estimate(model, queryset.db)
        if estimate is None or estimate < ESTIMATE_ABOVE:
            return super().count
        if not queryset.query.where:
            return estimate
        return plan_estimate(queryset.values("pk"))
