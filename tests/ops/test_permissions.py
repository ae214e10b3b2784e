"""Who may do what: each role x each action, offered or refused; and refused means nothing
happens even when the action is posted directly."""

from __future__ import annotations

import pytest
from django.urls import reverse

from backups.models import Snapshot
from tenants.models import (
    AuditEvent,
    JiraSite,
    LegacyCredential,
    MigrationCase,
    OAuthGrant,
    Tenant,
)
from tests.factories import LegacyCredentialFactory, TenantFactory

SUPPORT, OPERATOR, SECURITY = "Support", "Operator", "Security admin"
EVERYONE = {SUPPORT, OPERATOR, SECURITY, "superuser"}
OPERATORS = {OPERATOR, SECURITY, "superuser"}

# (model, action) -> roles that are offered the action.
MATRIX = {
    (Tenant, "send_invitations"): EVERYONE,
    (Tenant, "run_backups"): EVERYONE,
    (Tenant, "refresh_grants"): OPERATORS,
    (Tenant, "suspend_tenants"): OPERATORS,
    (Tenant, "reactivate"): OPERATORS,
    (JiraSite, "send_invitations"): EVERYONE,
    (JiraSite, "run_backups"): EVERYONE,
    (JiraSite, "refresh_grants"): OPERATORS,
    (OAuthGrant, "refresh_grants"): OPERATORS,
    (MigrationCase, "send_invitations"): EVERYONE,
    (MigrationCase, "mark_exempt"): OPERATORS,
    (Snapshot, "start_restore"): OPERATORS,
    (LegacyCredential, "purge_legacy_credentials"): {SECURITY, "superuser"},
    (OAuthGrant, "revoke"): {SECURITY, "superuser"},
}
ROLES = [SUPPORT, OPERATOR, SECURITY, "superuser", None]


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def offered(client, model) -> set[str] | None:
    response = client.get(changelist(model))
    if response.status_code == 403:
        return None
    assert response.status_code == 200
    form = response.context["action_form"]
    if form is None:  # no action at all is offered
        return set()
    return {name for name, _ in form.fields["action"].choices if name}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "no-role")
@pytest.mark.parametrize(("model", "action"), list(MATRIX), ids=lambda v: getattr(v, "__name__", v))
def test_each_role_is_offered_exactly_the_actions_it_holds(as_role, role, model, action):
    actions = offered(as_role(role), model)
    allowed = role in MATRIX[(model, action)]
    if role is None:
        assert actions is None  # staff without a role see no changelist at all
    else:
        assert (action in actions) is allowed


@pytest.mark.django_db
def test_a_refused_action_posted_directly_does_nothing(as_role):
    support = as_role(SUPPORT)
    credential = LegacyCredentialFactory()
    tenant = TenantFactory()
    support.post(
        changelist(LegacyCredential),
        {
            "action": "purge_legacy_credentials",
            "_selected_action": [str(credential.pk)],
            "confirm": "yes",
            "reason": "x",
            "include_unverified": "on",
        },
    )
    support.post(
        changelist(Tenant),
        {
            "action": "suspend_tenants",
            "_selected_action": [str(tenant.pk)],
            "confirm": "yes",
            "reason": "x",
        },
    )
    credential.refresh_from_db()
    tenant.refresh_from_db()
    assert credential.has_secret and tenant.status == "active"
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "allowed"),
    [(SUPPORT, True), (OPERATOR, True), (SECURITY, True), ("superuser", True), (None, False)],
)
def test_the_dashboard_is_for_every_staff_role(as_role, role, allowed):
    response = as_role(role).get(reverse("admin:ops_operations_changelist"))
    assert (response.status_code == 200) is allowed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "allowed"),
    [(SUPPORT, False), (OPERATOR, False), (SECURITY, True), ("superuser", True)],
)
def test_only_security_admins_read_the_audit_log(as_role, role, allowed):
    response = as_role(role).get(changelist(AuditEvent))
    assert (response.status_code == 200) is allowed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "codename", "allowed"),
    [
        (SUPPORT, "rotate_keys", False),
        (OPERATOR, "rotate_keys", False),
        (SECURITY, "rotate_keys", True),
        (SUPPORT, "manage_retention", False),
        (OPERATOR, "manage_retention", True),
        (SUPPORT, "restore", False),
        (OPERATOR, "restore", True),
    ],
)
def test_roles_hold_the_permissions_of_the_issue(as_role, role, codename, allowed):
    user = as_role(role).user
    assert user.has_perm(f"ops.{codename}") is allowed


@pytest.mark.django_db
def test_the_tenant_page_shows_audit_events_only_to_those_who_may_read_them(as_role):
    from tests.factories import AuditEventFactory

    event = AuditEventFactory(action="tenant.special_marker")
    url = reverse("admin:tenants_tenant_change", args=[event.tenant.pk])
    assert b"tenant.special_marker" in as_role(SECURITY).get(url).content
    assert b"tenant.special_marker" not in as_role(SUPPORT).get(url).content
