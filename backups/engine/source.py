"""Where the engine gets its Atlassian client, and how it counts the points it spends."""

from __future__ import annotations

import threading
from typing import Any

from django.utils.module_loading import import_string

from atlassian.ratelimit import INTERACTIVE
from backups import conf


class PointsMeter:
    """Wraps the client's call ledger: forwards every record and counts points and requests,
    so each step knows what it cost (Atlassian sends no cost header)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self.points = 0
        self.requests = 0

    def record(self, **kwargs: Any) -> None:
        with self._lock:
            self.points += int(kwargs.get("points") or 0)
            self.requests += 1
        self.inner.record(**kwargs)

    def take(self) -> int:
        """Points since the last call."""
        with self._lock:
            points, self.points = self.points, 0
        return points

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def client_for_site(site: Any, *, priority: str = INTERACTIVE) -> Any:
    """A metered ``JiraClient`` for the site (``tenants.access.jira_client_for_site`` unless
    ``BACKUPS_CLIENT_FACTORY`` names another factory with the same signature), whose requests
    the points budget admits at ``priority``: interactive (restores, roll-backs, what a person
    started and waits for) unless the caller says scheduled (backups)."""
    factory = import_string(conf.client_factory())
    client = factory(site)
    client.ledger = PointsMeter(client.ledger)
    client.admission.priority = priority
    return client
