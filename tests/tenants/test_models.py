import pytest
from django.db import IntegrityError, transaction

from tenants.models import JiraSite, LegacyCredential, OAuthGrant
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    LegacyCredentialFactory,
    MembershipFactory,
    MigrationCaseFactory,
    MigrationNoticeFactory,
    OAuthGrantFactory,
)

pytestmark = pytest.mark.django_db


def test_every_factory_builds_a_valid_row():
    GrantSiteFactory(in_use=True)
    MembershipFactory()
    LegacyCredentialFactory(customer_app=True)
    MigrationNoticeFactory()
    assert JiraSite.objects.filter(grant__isnull=False).count() == 1


def test_a_cloud_id_cannot_belong_to_two_tenants_in_the_database():
    site = JiraSiteFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        JiraSiteFactory(cloud_id=site.cloud_id)


def test_a_site_cannot_use_a_grant_and_a_legacy_credential_at_once():
    site = JiraSiteFactory(legacy=True)
    site.grant = OAuthGrantFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        site.save()


def test_a_purged_credential_cannot_keep_its_ciphertext():
    credential = LegacyCredentialFactory()
    credential.status = LegacyCredential.Status.PURGED
    with pytest.raises(IntegrityError), transaction.atomic():
        credential.save()


def test_a_revoked_grant_cannot_keep_tokens():
    grant = OAuthGrantFactory()
    grant.status = OAuthGrant.Status.REVOKED
    with pytest.raises(IntegrityError), transaction.atomic():
        grant.save()


def test_an_exempt_case_needs_a_justification_and_an_approver():
    case = MigrationCaseFactory()
    case.state = "exempt"
    with pytest.raises(IntegrityError), transaction.atomic():
        case.save()


def test_the_same_notice_cannot_be_recorded_twice():
    notice = MigrationNoticeFactory(key="reminder:-7d")
    with pytest.raises(IntegrityError), transaction.atomic():
        MigrationNoticeFactory(case=notice.case, key="reminder:-7d")
