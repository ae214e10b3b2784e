"""The batch invitation service behind the command, the admin action and the single-case
service (``migration_invites_send_bulk``), and the set-based dashboard reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backups.services import schedule_create
from ops import quota
from ops.dashboard import backup_overdue_sites
from tenants.models import AuditEvent, MigrationCase, MigrationNotice
from tenants.services.campaigns import migration_invites_send_bulk, read_invite_token
from tests.factories import GrantSiteFactory, JiraSiteFactory, MigrationCaseFactory, TenantFactory
from tests.ops.test_dashboard import snapshot

S = MigrationCase.State


def cases(n: int) -> list[MigrationCase]:
    made = []
    for i in range(n):
        tenant = TenantFactory(contact_emails=[f"ops{i}@t{i}.example", f"it{i}@t{i}.example"])
        made.append(MigrationCaseFactory(site__tenant=tenant))
    return list(
        MigrationCase.objects.filter(pk__in=[c.pk for c in made]).select_related("site__tenant")
    )


def queries_to_invite(batch) -> int:
    with CaptureQueriesContext(connection) as captured:
        migration_invites_send_bulk(cases=batch, acting_user=None)
    return len(captured)


@pytest.mark.django_db
def test_inviting_twenty_cases_runs_as_many_queries_as_inviting_two():
    ContentType.objects.get_for_model(MigrationCase)  # cached per process, as in production
    assert queries_to_invite(cases(20)) == queries_to_invite(cases(2))


@pytest.mark.django_db
def test_each_invited_case_gets_its_notice_two_audit_events_and_the_invited_state(
    django_capture_on_commit_callbacks,
):
    batch = cases(3)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = migration_invites_send_bulk(cases=batch, acting_user=None)
        assert mail.outbox == []  # nothing leaves before commit
    for callback in callbacks:
        callback()

    assert set(result.sent) == {c.pk for c in batch}
    for case in batch:
        case.refresh_from_db()
        assert case.state == S.INVITED and case.invited_at is not None
        notice = MigrationNotice.objects.get(case=case)
        assert notice.recipients == [
            f"ops{batch.index(case)}@t{batch.index(case)}.example",
            f"it{batch.index(case)}@t{batch.index(case)}.example",
        ]
        actions = sorted(
            AuditEvent.objects.filter(target_object_id=str(case.pk)).values_list(
                "action", flat=True
            )
        )
        assert actions == ["migration_case.invited", "migration_notice.sent"]
        event = AuditEvent.objects.get(
            target_object_id=str(case.pk), action="migration_case.invited"
        )
        assert event.summary == {"cloud_id": case.site.cloud_id, "from": "pending", "to": "invited"}
        assert event.tenant_id == case.site.tenant_id
    assert len(mail.outbox) == 6
    for message in mail.outbox:
        (address,) = message.to
        link = next(w for w in message.body.split() if "/migrate/invite/" in w)
        token = link.rsplit("/migrate/invite/", 1)[1].strip("/")
        assert read_invite_token(token)[1] == address
        assert f"The link is for {address}" in message.body
        html, _ = message.alternatives[0]
        assert f"The link is for {address}" in html and "@@" not in html + message.body


@pytest.mark.django_db
def test_the_html_part_escapes_the_substituted_address(django_capture_on_commit_callbacks):
    tenant = TenantFactory(contact_emails=["o'brien&co@acme.example"])
    case = MigrationCaseFactory(site__tenant=tenant)
    with django_capture_on_commit_callbacks(execute=True):
        migration_invites_send_bulk(cases=[case], acting_user=None)
    html, _ = mail.outbox[0].alternatives[0]
    assert "o&#x27;brien&amp;co@acme.example" in html
    assert "o'brien&co@acme.example" in mail.outbox[0].body


@pytest.mark.django_db
def test_a_second_batch_the_same_day_sends_nothing_and_records_nothing(
    django_capture_on_commit_callbacks,
):
    batch = cases(2)
    with django_capture_on_commit_callbacks(execute=True):
        migration_invites_send_bulk(cases=batch, acting_user=None)
        again = migration_invites_send_bulk(cases=batch, acting_user=None)
    assert again.sent == {} and again.already == sorted(c.pk for c in batch)
    assert MigrationNotice.objects.count() == 2
    assert AuditEvent.objects.filter(action="migration_notice.sent").count() == 2
    assert len(mail.outbox) == 4


@pytest.mark.django_db
def test_a_refused_case_changes_nothing_and_the_others_are_invited(
    django_capture_on_commit_callbacks,
):
    good = cases(1)[0]
    nobody = MigrationCaseFactory(site__tenant=TenantFactory(contact_emails=[]))
    completed = MigrationCaseFactory()
    MigrationCase.objects.filter(pk=completed.pk).update(state=S.COMPLETED)
    with django_capture_on_commit_callbacks(execute=True):
        result = migration_invites_send_bulk(cases=[good, nobody, completed], acting_user=None)
    assert set(result.sent) == {good.pk}
    assert "no contact e-mail" in result.refused[nobody.pk]
    assert "completed" in result.refused[completed.pk]
    nobody.refresh_from_db()
    assert nobody.state == S.PENDING and not nobody.notices.exists()
    assert not AuditEvent.objects.filter(target_object_id__in=[str(nobody.pk), str(completed.pk)])
    assert {m.to[0] for m in mail.outbox} == {"ops0@t0.example", "it0@t0.example"}


@pytest.mark.django_db
def test_a_failed_case_is_invited_again_and_its_failure_reason_cleared():
    case = MigrationCaseFactory(failed=True, site__tenant__contact_emails=["a@b.example"])
    result = migration_invites_send_bulk(cases=[case], acting_user=None)
    assert case.pk in result.sent
    case.refresh_from_db()
    assert (case.state, case.failure_reason) == (S.INVITED, "")


# ------------------------------------------------------------------ set-based dashboard reads


@pytest.mark.django_db
def test_the_overdue_count_matches_the_sites_listed_with_mixed_intervals():
    fresh, stale, never = (GrantSiteFactory(in_use=True).site for _ in range(3))
    daily = JiraSiteFactory()
    for site, hours in ((fresh, 1), (stale, 1), (never, 24), (daily, 24)):
        schedule_create(site=site, acting_user=None, interval_hours=hours)
    snapshot(fresh, points=1, age=timedelta(minutes=30))
    snapshot(stale, points=1, age=timedelta(hours=3))
    snapshot(daily, points=1, age=timedelta(hours=30))
    now = timezone.now()
    _plans, overdue = quota.plan_and_overdue(now=now, overdue_intervals=2)
    listed = set(backup_overdue_sites(now=now).values_list("pk", flat=True))
    assert listed == {stale.pk, never.pk}
    assert overdue == len(listed)


@pytest.mark.django_db
def test_the_planner_lists_the_legacy_pools_with_the_biggest_need_first(settings):
    settings.ATLASSIAN_TIER2_POINTS_PER_HOUR = 1000
    sites = [JiraSiteFactory(legacy=True) for _ in range(3)]
    for site, points in zip(sites, (100, 5000, 300), strict=True):
        schedule_create(site=site, acting_user=None, interval_hours=1)
        snapshot(site, points=points)
    plans = quota.plan(legacy_pools_listed=2)
    assert [p.pool for p in plans] == [
        f"api-token:{sites[1].cloud_id}",
        f"api-token:{sites[2].cloud_id}",
    ]
    assert not plans[0].fits and [n.url for n in plans[0].to_move] == [sites[1].url]
    assert plans[1].fits and round(plans[1].need) == 300
