"""Staff schedule brownout windows in the admin; saves go through the audited service."""

from __future__ import annotations

import pytest

from tenants.models import AuditEvent, BrownoutWindow
from tests.tenants.conftest import admin_client  # noqa: F401  (the MFA'd superuser client)

pytestmark = pytest.mark.django_db

ADD = "/admin/tenants/brownoutwindow/add/"


def _form(**overrides):
    data = {
        "starts_at_0": "2026-12-01",
        "starts_at_1": "10:00:00",
        "ends_at_0": "2026-12-01",
        "ends_at_1": "12:00:00",
        "reason": "Brownout: API tokens stop working on 1 January",
    }
    data.update(overrides)
    return data


def test_staff_schedule_a_brownout_in_the_admin_and_it_is_audited(admin_client):  # noqa: F811
    response = admin_client.post(ADD, _form())

    assert response.status_code == 302, response.content
    window = BrownoutWindow.objects.get()
    assert window.reason.startswith("Brownout") and window.created_by == admin_client.user
    event = AuditEvent.objects.get(action="brownout.scheduled")
    assert event.actor == admin_client.user


def test_a_window_that_ends_before_it_starts_is_a_form_error(admin_client):  # noqa: F811
    response = admin_client.post(ADD, _form(ends_at_1="09:00:00"))

    assert response.status_code == 200
    assert b"errornote" in response.content or b"errorlist" in response.content
    assert not BrownoutWindow.objects.exists()
