"""Invitations and reminders: signed single-purpose expiring links to the tenant's contacts,
a reminder cadence that never sends the same notice twice, and accepting an invitation."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from allauth.account.models import EmailAddress
from django.core import mail, signing
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from tenants.exceptions import DomainError
from tenants.models import Membership, MigrationCase, MigrationNotice
from tenants.services.campaigns import (
    INVITE_SALT,
    InviteLinkExpired,
    InviteLinkInvalid,
    invite_token,
    migration_invite_send,
    migration_reminder_send,
    migration_reminders_due,
    read_invite_token,
    reminder_key_for,
)
from tests.factories import MembershipFactory, MigrationCaseFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db
S = MigrationCase.State


@pytest.fixture
def case(settings):
    settings.MIGRATION_REMINDER_DAYS = [14, 7, 3, 1]
    settings.MIGRATION_PAST_DUE_REMINDER_DAYS = 7
    tenant = TenantFactory(slug="acme", contact_emails=["ops@acme.example", "it@acme.example"])
    return MigrationCaseFactory(site__tenant=tenant, due_at=timezone.now() + timedelta(days=30))


def test_an_invitation_mails_each_contact_a_signed_link_and_marks_the_case_invited(
    case, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notice = migration_invite_send(case=case, acting_user=None)

    case.refresh_from_db()
    assert case.state == S.INVITED and case.invited_at is not None
    assert notice.kind == MigrationNotice.Kind.INVITATION
    assert notice.recipients == ["ops@acme.example", "it@acme.example"]
    assert [m.to for m in mail.outbox] == [["ops@acme.example"], ["it@acme.example"]]
    message = mail.outbox[0]
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and case.site.url in html
    link = next(w for w in message.body.split() if "/migrate/invite/" in w)
    token = link.rsplit("/migrate/invite/", 1)[1].strip("/")
    assert read_invite_token(token) == (case.pk, "ops@acme.example")
    assert "days left" in message.body


def test_a_second_invitation_the_same_day_sends_nothing(case, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert migration_invite_send(case=case, acting_user=None) is not None
        assert migration_invite_send(case=case, acting_user=None) is None

    assert len(mail.outbox) == 2  # one per contact, once
    assert case.notices.count() == 1


def test_a_completed_case_is_not_invited(case):
    case.state = S.COMPLETED
    case.save()
    with pytest.raises(DomainError):
        migration_invite_send(case=case, acting_user=None)


def test_links_are_single_purpose_and_expire(case, settings):
    token = invite_token(case=case, email="ops@acme.example")
    other_purpose = signing.dumps({"case": case.pk, "email": "x@y.z"}, salt="something-else")
    with pytest.raises(InviteLinkInvalid):
        read_invite_token(other_purpose)
    with pytest.raises(InviteLinkInvalid):
        read_invite_token(token[:-2] + "xx")
    with pytest.raises(InviteLinkExpired):
        read_invite_token(token, max_age=timedelta(seconds=-1))
    assert INVITE_SALT not in token


def test_the_reminder_cadence_counts_down_then_goes_weekly_while_past_due(case):
    due = case.due_at
    assert reminder_key_for(case, now=due - timedelta(days=20)) is None
    assert reminder_key_for(case, now=due - timedelta(days=14)) == "reminder:-14d"
    assert reminder_key_for(case, now=due - timedelta(days=5)) == "reminder:-7d"
    assert reminder_key_for(case, now=due - timedelta(hours=2)) == "reminder:-1d"
    assert reminder_key_for(case, now=due + timedelta(hours=1)) == "reminder:past-due:w0"
    assert reminder_key_for(case, now=due + timedelta(days=15)) == "reminder:past-due:w2"


def test_due_reminders_are_sent_once_and_recorded_on_the_case(
    case, django_capture_on_commit_callbacks
):
    case.state = S.INVITED
    case.save()
    now = case.due_at - timedelta(days=6)

    [(due_case, key)] = migration_reminders_due(now)
    assert (due_case.pk, key) == (case.pk, "reminder:-7d")
    with django_capture_on_commit_callbacks(execute=True):
        notice = migration_reminder_send(case=due_case, key=key, acting_user=None, now=now)
        again = migration_reminder_send(case=due_case, key=key, acting_user=None, now=now)

    assert notice.key == "reminder:-7d" and again is None
    assert migration_reminders_due(now) == []
    assert len(mail.outbox) == 2
    assert "reminder" in mail.outbox[0].subject.lower()
    assert list(case.notices.values_list("key", flat=True)) == ["reminder:-7d"]
    # The next cadence point is due later.
    [(_, next_key)] = migration_reminders_due(case.due_at - timedelta(days=2))
    assert next_key == "reminder:-3d"


def test_pending_and_finished_cases_get_no_reminder(case):
    done = MigrationCaseFactory(state=S.COMPLETED, due_at=case.due_at)
    assert migration_reminders_due(case.due_at) == []  # case is pending, done is completed
    assert done.notices.count() == 0


# ---------------------------------------------------------------------- accepting


def _verified_user(email: str):
    user = UserFactory(email=email)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def test_an_invited_contact_joins_as_owner_and_lands_in_the_wizard(case):
    user = _verified_user("ops@acme.example")
    client = Client()
    client.force_login(user)
    url = f"/migrate/invite/{invite_token(case=case, email='ops@acme.example')}/"

    assert client.get(url).status_code == 200
    response = client.post(url)

    wizard = f"/t/{case.site.tenant.slug}/migrate/{case.pk}/"
    assert response["Location"] == wizard
    membership = Membership.objects.get(user=user, tenant=case.site.tenant)
    assert membership.role == Membership.Role.OWNER
    assert client.get(url)["Location"] == wizard  # a member goes straight on


def test_a_second_contact_joins_as_admin(case):
    MembershipFactory(tenant=case.site.tenant, role="owner")
    user = _verified_user("it@acme.example")
    client = Client()
    client.force_login(user)

    client.post(f"/migrate/invite/{invite_token(case=case, email='it@acme.example')}/")

    assert Membership.objects.get(user=user).role == Membership.Role.ADMIN


def test_a_forwarded_link_does_not_work_for_another_address(case):
    client = Client()
    client.force_login(_verified_user("someone@else.example"))
    url = f"/migrate/invite/{invite_token(case=case, email='ops@acme.example')}/"

    assert client.post(url).status_code == 403
    assert not Membership.objects.filter(tenant=case.site.tenant).exists()


def test_a_signed_out_visitor_meets_a_page_that_names_the_invitation(case):
    invite = f"/migrate/invite/{invite_token(case=case, email='ops@acme.example')}/"
    response = Client().get(invite)

    assert response.status_code == 200
    page = response.content.decode()
    assert case.site.tenant.name in page and case.site.url in page
    assert "Jira Backup" in page and "ops@acme.example" in page
    # Both ways in come back to the link, the sign-up with the invited address filled in.
    query = {"email": "ops@acme.example", "next": invite}
    assert f'href="/accounts/signup/?{escape(urlencode(query))}"' in page
    assert f'href="/accounts/login/?{escape(urlencode(query))}"' in page
    assert not Membership.objects.filter(tenant=case.site.tenant).exists()
    # From the sign-in page, "sign up" (in the text and the header) still comes back here.
    login = Client().get(f"/accounts/login/?{urlencode(query)}").content.decode()
    assert 'value="ops@acme.example"' in login  # the address filled in
    keeps_next = f'href="/accounts/signup/?{escape(urlencode({"next": invite}))}"'
    assert login.count(keeps_next) >= 2, login


def test_a_tampered_link_is_refused(case):
    client = Client()
    client.force_login(_verified_user("ops@acme.example"))
    assert client.get("/migrate/invite/not-a-token/").status_code == 400


def test_an_invited_contact_without_an_account_signs_up_and_lands_in_the_wizard(
    case, django_capture_on_commit_callbacks
):
    invite = f"/migrate/invite/{invite_token(case=case, email='ops@acme.example')}/"
    client = Client()
    client.get(invite)
    signup = f"/accounts/signup/?{urlencode({'email': 'ops@acme.example', 'next': invite})}"
    form = client.get(signup).content.decode()
    assert 'value="ops@acme.example"' in form  # prefilled
    assert f'value="{invite}"' in form  # "next" kept in the form
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            signup,
            {
                "email": "ops@acme.example",
                "password1": "a long enough passphrase 7",
                "password2": "a long enough passphrase 7",
                "next": invite,
            },
        )
    assert response.status_code == 302
    # Our own confirmation mail, naming the invitation.
    message = mail.outbox[-1]
    assert (
        message.subject
        == "Jira Backup: Confirm your e-mail address to finish creating your account"
    )
    assert case.site.tenant.name in message.body and case.site.url in message.body
    assert "example.com" not in message.body and "Hello from" not in message.body
    confirm = re.search(r"http://\S+(/accounts/confirm-email/[^\s/]+/)", message.body).group(1)

    confirmed = client.post(confirm)

    assert confirmed["Location"] == invite  # signed in, back to the invitation
    landed = client.get(invite)
    wizard = f"/t/{case.site.tenant.slug}/migrate/{case.pk}/"
    assert landed["Location"] == wizard
    membership = Membership.objects.get(tenant=case.site.tenant)
    assert (membership.user.email, membership.role) == ("ops@acme.example", "owner")
    page = client.get(wizard, follow=True)
    assert page.status_code == 200 and "not a member" not in page.content.decode()
    assert page.redirect_chain[-1][0].endswith("/why/")


def test_a_signed_in_contact_who_opens_the_link_still_confirms_with_the_button(case):
    user = _verified_user("ops@acme.example")
    client = Client()
    client.force_login(user)
    invite = f"/migrate/invite/{invite_token(case=case, email='ops@acme.example')}/"

    page = client.get(invite)

    assert page.status_code == 200 and b"and start" in page.content
    assert not Membership.objects.filter(tenant=case.site.tenant).exists()


def test_invitations_nobody_acted_on_expire_and_a_reminder_reopens_them(
    case, settings, django_capture_on_commit_callbacks
):
    from tenants.services.campaigns import migration_invites_expire

    settings.MIGRATION_INVITE_MAX_AGE_DAYS = 14
    migration_invite_send(case=case, acting_user=None)
    later = timezone.now() + timedelta(days=15)

    assert migration_invites_expire(now=timezone.now()) == []
    assert migration_invites_expire(now=later) == [case.pk]
    case.refresh_from_db()
    assert case.state == S.INVITE_EXPIRED

    with django_capture_on_commit_callbacks(execute=True):
        migration_reminder_send(case=case, acting_user=None, now=later)
    case.refresh_from_db()
    assert case.state == S.INVITED


def test_someone_who_confirmed_elsewhere_finds_the_invitation_on_their_home_page(
    case, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        migration_invite_send(case=case, acting_user=None)
    client = Client()
    client.force_login(_verified_user("it@acme.example"))

    home = client.get("/").content.decode()

    assert "Invitations waiting for you" in home and case.site.url in home
    link = re.search(r'href="(?:http://[^/"]+)?(/migrate/invite/[^"]+/)"', home).group(1)
    assert read_invite_token(link.split("/")[-2]) == (case.pk, "it@acme.example")
    client.post(link)
    assert Membership.objects.filter(tenant=case.site.tenant, user__email="it@acme.example")
    assert "Invitations waiting for you" not in client.get("/").content.decode()


def test_an_invitation_to_someone_else_is_not_shown(case, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        migration_invite_send(case=case, acting_user=None)
    client = Client()
    client.force_login(_verified_user("someone@else.example"))

    home = client.get("/").content.decode()

    assert "Invitations waiting for you" not in home and "/migrate/invite/" not in home
