"""factory_boy factories for every model, shared by all test suites.

Factories build rows directly (no services, no audit events) so tests can set up any state; tests
of behaviour call the services. Secrets are random per row (``secret_value``) so a leak test can
search for the exact plaintext.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from tenants.models import (
    AuditEvent,
    GrantSite,
    JiraSite,
    LegacyCredential,
    Membership,
    MigrationCase,
    MigrationNotice,
    OAuthGrant,
    Tenant,
    User,
)


def secret_value(prefix: str) -> str:
    """A recognisable, unique fake secret (e.g. ``refresh-9f2c...``)."""
    return f"{prefix}-{secrets.token_hex(16)}"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("correct horse battery staple")

    class Params:
        staff = factory.Trait(is_staff=True)
        superuser = factory.Trait(is_staff=True, is_superuser=True)


class TenantFactory(DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Customer {n}")
    slug = factory.Sequence(lambda n: f"customer-{n}")
    contact_emails = factory.LazyAttribute(lambda o: [f"ops@{o.slug}.example.com"])

    class Params:
        suspended = factory.Trait(status=Tenant.Status.SUSPENDED, status_reason="unpaid invoice")
        offboarded = factory.Trait(status=Tenant.Status.OFFBOARDED, status_reason="contract ended")


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Membership.Role.OWNER

    class Params:
        admin = factory.Trait(role=Membership.Role.ADMIN)
        viewer = factory.Trait(role=Membership.Role.VIEWER)


class JiraSiteFactory(DjangoModelFactory):
    """A site with no credential; use ``GrantSiteFactory`` or the ``legacy`` trait for one."""

    class Meta:
        model = JiraSite

    tenant = factory.SubFactory(TenantFactory)
    cloud_id = factory.Faker("uuid4")
    name = factory.Sequence(lambda n: f"site{n}")
    url = factory.LazyAttribute(lambda o: f"https://{o.name}.atlassian.net")

    class Params:
        legacy = factory.Trait(
            legacy_credential=factory.SubFactory(
                "tests.factories.LegacyCredentialFactory",
                tenant=factory.SelfAttribute("..tenant"),
                site_url=factory.SelfAttribute("..url"),
            )
        )
        needs_reauth = factory.Trait(
            status=JiraSite.Status.NEEDS_REAUTH, status_reason="the grant was revoked"
        )


class OAuthGrantFactory(DjangoModelFactory):
    """A vendor-app grant with tokens set (encrypted with the current key)."""

    class Meta:
        model = OAuthGrant

    account_id = factory.Sequence(lambda n: f"557058:{n:08d}-acct")
    account_name = factory.Sequence(lambda n: f"Atlassian Admin {n}")
    account_email = factory.Sequence(lambda n: f"admin{n}@customer.example.com")
    scopes = factory.LazyFunction(
        lambda: ["read:jira-work", "read:jira-user", "offline_access", "read:me"]
    )
    access_token = factory.LazyFunction(lambda: secret_value("access"))
    refresh_token = factory.LazyFunction(lambda: secret_value("refresh"))
    access_token_expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    family_started_at = factory.LazyFunction(timezone.now)

    class Params:
        needs_reauth = factory.Trait(
            status=OAuthGrant.Status.NEEDS_REAUTH, status_reason="invalid_grant"
        )
        revoked = factory.Trait(
            status=OAuthGrant.Status.REVOKED,
            status_reason="revoked by staff",
            access_token=None,
            refresh_token=None,
        )


class GrantSiteFactory(DjangoModelFactory):
    """A grant reaching a site; ``GrantSiteFactory(in_use=True)`` also makes the site use it."""

    class Meta:
        model = GrantSite
        skip_postgeneration_save = True

    grant = factory.SubFactory(OAuthGrantFactory)
    site = factory.SubFactory(JiraSiteFactory)
    scopes = factory.LazyAttribute(lambda o: list(o.grant.scopes))

    @factory.post_generation
    def in_use(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.site.grant = obj.grant
            obj.site.legacy_credential = None
            obj.site.save(update_fields=["grant", "legacy_credential", "updated_at"])


class LegacyCredentialFactory(DjangoModelFactory):
    """An API-token credential by default; ``customer_app=True`` for the customer's own app."""

    class Meta:
        model = LegacyCredential

    tenant = factory.SubFactory(TenantFactory)
    kind = LegacyCredential.Kind.API_TOKEN
    site_url = factory.Sequence(lambda n: f"https://legacy{n}.atlassian.net")
    email = factory.Sequence(lambda n: f"jira-admin{n}@customer.example.com")
    api_token = factory.LazyFunction(lambda: secret_value("apitoken"))

    class Params:
        api_token_kind = factory.Trait(kind=LegacyCredential.Kind.API_TOKEN)
        customer_app = factory.Trait(
            kind=LegacyCredential.Kind.CUSTOMER_APP,
            email="",
            api_token=None,
            client_id=factory.Sequence(lambda n: f"customer-client-{n}"),
            client_secret=factory.LazyFunction(lambda: secret_value("clientsecret")),
            access_token=factory.LazyFunction(lambda: secret_value("legacyaccess")),
            refresh_token=factory.LazyFunction(lambda: secret_value("legacyrefresh")),
            access_token_expires_at=factory.LazyFunction(
                lambda: timezone.now() + timedelta(hours=1)
            ),
        )
        purged = factory.Trait(
            status=LegacyCredential.Status.PURGED,
            api_token=None,
            purged_at=factory.LazyFunction(timezone.now),
        )


class MigrationCaseFactory(DjangoModelFactory):
    """A pending case for a site on a legacy API-token credential."""

    class Meta:
        model = MigrationCase

    site = factory.SubFactory(JiraSiteFactory, legacy=True)
    legacy_credential = factory.SelfAttribute("site.legacy_credential")
    state = MigrationCase.State.PENDING
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))

    class Params:
        exempt = factory.Trait(
            state=MigrationCase.State.EXEMPT,
            exemption_justification="contractual exception approved by legal",
            exempted_by=factory.SubFactory(UserFactory, staff=True),
            exempt_at=factory.LazyFunction(timezone.now),
        )
        failed = factory.Trait(
            state=MigrationCase.State.FAILED,
            failure_reason="the customer is not a site admin",
            failed_at=factory.LazyFunction(timezone.now),
        )


class MigrationNoticeFactory(DjangoModelFactory):
    class Meta:
        model = MigrationNotice

    case = factory.SubFactory(MigrationCaseFactory)
    kind = MigrationNotice.Kind.INVITATION
    key = factory.LazyAttribute(lambda o: o.kind)
    recipients = factory.LazyFunction(lambda: ["ops@customer.example.com"])
    sent_at = factory.LazyFunction(timezone.now)


class AuditEventFactory(DjangoModelFactory):
    class Meta:
        model = AuditEvent

    action = "tenant.updated"
    tenant = factory.SubFactory(TenantFactory)
    target_repr = factory.LazyAttribute(lambda o: str(o.tenant))
    summary = factory.LazyFunction(dict)
