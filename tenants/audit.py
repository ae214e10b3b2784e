"""The audit log: ``record_event`` is called by every service inside its transaction, so the
change and its record commit or roll back together (Zulip's RealmAuditLog habit)."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import HttpRequest

from tenants.models import AuditEvent, Tenant, User

# Keys a summary must never carry: a secret in an audit row would live forever (append-only).
# ("code" alone is an OAuth authorization code; "status_code" is fine.)
_SECRET_KEY = re.compile(r"^(code|token|secret|password)$|(_token|_secret|password)$", re.I)


def _check_summary(value: Any, path: str = "summary") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if _SECRET_KEY.search(str(key)):
                raise ValueError(f"{path}.{key}: audit summaries must not carry secrets")
            _check_summary(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for item in value:
            _check_summary(item, path)


def _client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR") or None


def build_event(
    *,
    actor: User | None,
    action: str,
    target: models.Model | None,
    tenant: Tenant | None = None,
    summary: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """An audit event, not yet saved: ``record_event`` saves one; services writing many in one
    statement pass a list of these to ``AuditEvent.objects.bulk_create``. ``actor`` None (or
    anonymous) means the system; ``summary`` must hold no secrets (``ValueError`` otherwise)."""
    summary = summary or {}
    _check_summary(summary)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    event = AuditEvent(
        actor=actor,
        action=action,
        tenant=tenant,
        summary=summary,
        ip_address=_client_ip(request) if request is not None else None,
        request_id=getattr(request, "request_id", "") if request is not None else "",
    )
    if target is not None:
        # get_for_model is cached per process: no query per event.
        event.target_content_type = ContentType.objects.get_for_model(target)
        event.target_object_id = str(target.pk)
        event.target_repr = str(target)[:200]
    return event


def record_event(
    *,
    actor: User | None,
    action: str,
    target: models.Model | None,
    tenant: Tenant | None = None,
    summary: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Append an audit event. ``actor`` None means the system; ``summary`` holds no secrets."""
    event = build_event(
        actor=actor, action=action, target=target, tenant=tenant, summary=summary, request=request
    )
    event.save()
    return event
