import pytest

from tenants import services
from tenants.exceptions import DomainError, IllegalTransition
from tenants.models import LegacyCredential, MigrationCase
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    MigrationCaseFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(tenant):
    return MigrationCaseFactory(site__tenant=tenant)


def _to(case, state, **kwargs):
    return services.migration_case_transition(case, to=state, acting_user=None, **kwargs)


def test_it_opens_one_case_per_legacy_site(tenant, audited):
    site = JiraSiteFactory(tenant=tenant, legacy=True)
    first = services.migration_case_open(site=site, acting_user=None)
    again = services.migration_case_open(site=site, acting_user=None)
    assert first.pk == again.pk and first.state == "pending"
    assert first.legacy_credential_id == site.legacy_credential_id
    audited("migration_case.opened", actor=None, tenant=tenant)


def test_it_refuses_to_open_a_case_for_a_site_without_legacy_credential(tenant):
    with pytest.raises(DomainError, match="no legacy credential"):
        services.migration_case_open(site=JiraSiteFactory(tenant=tenant), acting_user=None)


def test_it_walks_the_happy_path_to_completed_and_purges_the_legacy_secret(
    case, tenant, owner, audited
):
    secret = case.legacy_credential.api_token
    _to(case, "invited")
    _to(case, "consented")
    link = GrantSiteFactory(site=case.site)
    _to(case, "verified")
    services.site_use_grant(site=case.site, grant=link.grant, acting_user=owner)
    case.refresh_from_db()
    assert case.state == "cut_over"
    services.migration_case_transition(case, to="completed", acting_user=owner)

    case.refresh_from_db()
    assert case.state == "completed"
    for stamp in ("invited_at", "consented_at", "verified_at", "cut_over_at", "completed_at"):
        assert getattr(case, stamp) is not None
    credential = LegacyCredential.objects.get(pk=case.legacy_credential_id)
    assert credential.status == "purged" and not credential.has_secret
    event = audited("migration_case.completed", actor=owner, tenant=tenant, secrets=[secret])
    assert event.summary == {"cloud_id": case.site.cloud_id, "from": "cut_over", "to": "completed"}


@pytest.mark.parametrize(
    ("start", "to"),
    [
        ("pending", "completed"),
        ("pending", "consented"),
        ("invited", "cut_over"),
        ("completed", "pending"),
        ("cut_over", "invited"),
        ("exempt", "completed"),
    ],
)
def test_it_refuses_an_illegal_transition_naming_from_and_to(tenant, start, to):
    if start == "exempt":
        case = MigrationCaseFactory(site__tenant=tenant, exempt=True)
    else:
        case = MigrationCaseFactory(site__tenant=tenant, state=start)
    with pytest.raises(IllegalTransition) as caught:
        _to(case, to)
    assert f"from {start!r} to {to!r}" in str(caught.value)
    assert MigrationCase.objects.get(pk=case.pk).state == start


def test_it_refuses_an_unknown_state(case):
    with pytest.raises(IllegalTransition, match="unknown state"):
        _to(case, "teleported")


def test_it_refuses_to_verify_before_a_grant_reaches_the_site(case):
    _to(case, "invited")
    _to(case, "consented")
    with pytest.raises(IllegalTransition, match="no active vendor grant"):
        _to(case, "verified")


def test_it_refuses_to_cut_over_while_the_site_is_still_on_legacy(case):
    MigrationCase.objects.filter(pk=case.pk).update(state="verified")
    case.refresh_from_db()
    with pytest.raises(IllegalTransition, match="site_use_grant"):
        _to(case, "cut_over")


def test_a_failure_needs_a_reason_and_keeps_it(case, tenant, audited):
    with pytest.raises(IllegalTransition, match="reason"):
        _to(case, "failed")
    _to(case, "failed", reason="customer is not a site admin")
    assert case.state == "failed" and case.failure_reason == "customer is not a site admin"
    event = audited("migration_case.failed", actor=None, tenant=tenant)
    assert event.summary["reason"] == "customer is not a site admin"
    _to(case, "invited")  # a failed case can be retried
    assert case.failure_reason == ""


def test_an_invite_can_expire_and_be_sent_again(case):
    _to(case, "invited")
    _to(case, "invite_expired")
    _to(case, "invited")
    assert case.invite_expired_at is not None and case.state == "invited"


def test_exemption_goes_only_through_mark_exempt(case):
    with pytest.raises(IllegalTransition, match="migration_case_mark_exempt"):
        _to(case, "exempt")


def test_it_marks_a_case_exempt_with_justification_and_staff_approver(case, tenant, audited):
    approver = UserFactory(staff=True)
    services.migration_case_mark_exempt(
        case=case,
        justification="regulated customer, legal review pending",
        approved_by=approver,
        acting_user=approver,
    )
    case.refresh_from_db()
    assert case.state == "exempt" and case.exempted_by == approver and case.exempt_at
    event = audited("migration_case.exempt", actor=approver, tenant=tenant)
    assert event.summary["approved_by"] == approver.pk


def test_an_exemption_needs_a_justification_and_a_staff_approver(case, owner):
    with pytest.raises(DomainError, match="justification"):
        services.migration_case_mark_exempt(
            case=case, justification=" ", approved_by=UserFactory(staff=True), acting_user=None
        )
    with pytest.raises(DomainError, match="staff"):
        services.migration_case_mark_exempt(
            case=case, justification="because", approved_by=owner, acting_user=owner
        )


def test_a_notice_is_recorded_and_sent_once(
    case, tenant, audited, django_capture_on_commit_callbacks
):
    sent = []
    with django_capture_on_commit_callbacks(execute=True):
        first = services.migration_notice_record(
            case=case,
            kind="reminder",
            key="reminder:-7d",
            recipients=["ops@acme.example"],
            send=lambda: sent.append("reminder:-7d"),
            acting_user=None,
        )
        second = services.migration_notice_record(
            case=case,
            kind="reminder",
            key="reminder:-7d",
            recipients=["ops@acme.example"],
            send=lambda: sent.append("again"),
            acting_user=None,
        )
    assert first is not None and second is None
    assert sent == ["reminder:-7d"]
    audited("migration_notice.sent", actor=None, tenant=tenant)


def test_completing_one_site_of_a_shared_customer_app_keeps_its_secret(tenant, owner):
    case = MigrationCaseFactory(
        site__tenant=tenant, site__legacy__legacy_credential__customer_app=True
    )
    credential = case.legacy_credential
    JiraSiteFactory(tenant=tenant, legacy_credential=credential)  # still uses the app
    link = GrantSiteFactory(site=case.site)
    MigrationCase.objects.filter(pk=case.pk).update(state="verified")
    services.site_use_grant(site=case.site, grant=link.grant, acting_user=owner)
    services.migration_case_transition(case, to="completed", acting_user=owner)
    credential.refresh_from_db()
    assert credential.status == "active" and credential.has_secret
