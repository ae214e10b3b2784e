"""Bulk operations shared by the admin actions and the management commands.

Each function loops over the selected rows and calls ONE service per row (the same service the
wizard and the tasks call), or, for invitations, one batch service per 200 rows
(``migration_invites_send_bulk``, which the single-case service also uses); it only turns the service's answer into an ``BulkOutcome`` line (done,
skipped with a reason, or failed with a reason). One row's failure never stops the others.

``dry_run`` reports what would be done, calling nothing that writes.
``progress`` is called once per row (the commands pass a tqdm bar's ``update``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from backups.selectors import active_job
from backups.services import BackupRefused, backup_job_enqueue
from kit.outcomes import BulkOutcome
from ops import campaign
from tenants.exceptions import DomainError
from tenants.models import JiraSite, LegacyCredential, MigrationCase, OAuthGrant, Tenant, User
from tenants.selectors import sites_needing_reconsent
from tenants.services import (
    campaigns,
    legacy_credential_purge,
    migration_case_mark_exempt,
    reconsent_case_open,
    tenant_suspend,
)
from tenants.tokens import SiteNeedsReauthorization, TokenUnavailable, refresh_grant
from tenants.upkeep import reconcile_grant_sites

Progress = Callable[[int], Any] | None

# Cases a campaign invites: not yet invited, or whose invitation expired or failed.
TO_INVITE = campaigns.TO_INVITE
# Cases waiting for the customer (the campaign service decides which get reminders).
REMINDABLE = campaigns.REMINDABLE
CLOSED = (MigrationCase.State.COMPLETED, MigrationCase.State.EXEMPT)


# Rows per transaction in campaigns: invitations go through one batch service call (a refused
# case changes nothing, the others go on); reminders are one savepoint per row. E-mails leave
# only after their batch committed, and 10,000 cases cost 50 commits instead of 10,000.
BATCH = 200


def _batched(items: Iterable, size: int = BATCH):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _tick(progress: Progress) -> None:
    if progress is not None:
        progress(1)


def cases_for(
    queryset: QuerySet, *, purpose: str = MigrationCase.Purpose.MIGRATION
) -> QuerySet[MigrationCase]:
    """The cases behind a selection of cases (whatever their purpose), or the cases of
    ``purpose`` behind a selection of tenants or sites."""
    model = queryset.model
    cases = MigrationCase.objects.select_related("site__tenant", "legacy_credential")
    if model is MigrationCase:
        return cases.filter(pk__in=queryset.values("pk"))
    if model is JiraSite:
        return cases.filter(site__in=queryset.values("pk"), purpose=purpose)
    if model is Tenant:
        return cases.filter(site__tenant__in=queryset.values("pk"), purpose=purpose)
    raise TypeError(f"no migration cases behind {model.__name__}")


def grants_for(queryset: QuerySet) -> QuerySet[OAuthGrant]:
    """The vendor grants behind a selection of grants, sites or tenants."""
    model = queryset.model
    if model is OAuthGrant:
        return OAuthGrant.objects.filter(pk__in=queryset.values("pk"))
    if model is JiraSite:
        return OAuthGrant.objects.filter(grant_sites__site__in=queryset.values("pk")).distinct()
    if model is Tenant:
        return OAuthGrant.objects.filter(
            grant_sites__site__tenant__in=queryset.values("pk")
        ).distinct()
    raise TypeError(f"no grants behind {model.__name__}")


def sites_for(queryset: QuerySet) -> QuerySet[JiraSite]:
    model = queryset.model
    sites = JiraSite.objects.select_related("tenant")
    if model is JiraSite:
        return sites.filter(pk__in=queryset.values("pk"))
    if model is Tenant:
        return sites.filter(tenant__in=queryset.values("pk"))
    raise TypeError(f"no sites behind {model.__name__}")


# ------------------------------------------------------------------------ campaigns


def send_invitations_or_reminders(
    cases: Iterable[MigrationCase],
    *,
    acting_user: User | None,
    request: HttpRequest | None = None,
    dry_run: bool = False,
    progress: Progress = None,
) -> BulkOutcome:
    """Invite cases that were not invited yet, remind the ones that were (the admin action)."""
    outcome = BulkOutcome("invitations or reminders sent", one="invitation or reminder sent")
    for batch in _batched(cases):
        to_invite = []
        for case in batch:
            if case.state in REMINDABLE and case.state not in TO_INVITE:
                _remind_one(case, None, outcome, acting_user, request, dry_run)
                _tick(progress)
            else:
                to_invite.append(case)
        _invite_batch(to_invite, outcome, acting_user, request, dry_run, progress)
    return outcome


def send_invitations(
    cases: Iterable[MigrationCase],
    *,
    acting_user: User | None,
    request: HttpRequest | None = None,
    dry_run: bool = False,
    progress: Progress = None,
) -> BulkOutcome:
    outcome = BulkOutcome(
        "invitations would be sent" if dry_run else "invitations sent",
        one="invitation would be sent" if dry_run else "invitation sent",
    )
    for batch in _batched(cases):
        _invite_batch(batch, outcome, acting_user, request, dry_run, progress)
    return outcome


def send_reminders(
    due: Iterable[tuple[MigrationCase, str | None]],
    *,
    acting_user: User | None,
    request: HttpRequest | None = None,
    dry_run: bool = False,
    progress: Progress = None,
) -> BulkOutcome:
    """``due`` pairs a case with its reminder key (``migration_reminders_due``), or None for
    the service's choice."""
    outcome = BulkOutcome(
        "reminders would be sent" if dry_run else "reminders sent",
        one="reminder would be sent" if dry_run else "reminder sent",
    )
    for batch in _batched(due):
        with transaction.atomic():
            for case, key in batch:
                _remind_one(case, key, outcome, acting_user, request, dry_run)
                _tick(progress)
    return outcome


def _label(case: MigrationCase) -> str:
    return f"{case.site.url} ({case.site.tenant.slug})"


def _invite_batch(cases, outcome, acting_user, request, dry_run, progress) -> None:
    """One transaction per batch (``campaign.invite_many``): a refused case is listed as
    failed and changes nothing; the others are invited."""
    to_send = []
    for case in cases:
        label = _label(case)
        if case.state in CLOSED:
            outcome.skip(label, f"case is {case.state}")
        elif case.state not in TO_INVITE:
            outcome.skip(label, "already invited")
        elif dry_run:
            outcome.ok(label)
        else:
            to_send.append(case)
            continue
        _tick(progress)
    if not to_send:
        return
    answers = campaign.invite_many(cases=to_send, acting_user=acting_user, request=request)
    for case in to_send:
        label = _label(case)
        answer = answers.get(case.pk, "the case was not invited")
        if isinstance(answer, str):
            outcome.fail(label, answer)
        elif answer.sent:
            outcome.ok(label)
        else:
            outcome.skip(label, answer.reason)
        _tick(progress)


def _remind_one(case, key, outcome, acting_user, request, dry_run) -> None:
    label = _label(case)
    if case.state not in REMINDABLE:
        outcome.skip(label, f"case is {case.state}, not waiting for the customer")
        return
    if dry_run:
        outcome.ok(label)
        return
    try:
        result = campaign.remind(case=case, key=key, acting_user=acting_user, request=request)
    except DomainError as exc:
        outcome.fail(label, str(exc))
        return
    if result.sent:
        outcome.ok(label)
    else:
        outcome.skip(label, result.reason)


# ------------------------------------------------------------------------ re-consent

# How long a re-consent campaign gives customers (the reminders' cadence counts down to it).
RECONSENT_DUE_DAYS = 30


def _not_needing_reconsent(site: JiraSite) -> str:
    if site.grant_id is None:
        return "not on the vendor grant (nothing to re-consent)"
    if site.status != JiraSite.Status.ACTIVE:
        return f"site is {site.get_status_display().lower()}"
    return "its grant already carries Jira Software's scopes"


def send_reconsent_invitations(
    sites: Iterable[JiraSite],
    *,
    acting_user: User | None,
    request: HttpRequest | None = None,
    due_at: datetime | None = None,
    dry_run: bool = False,
    progress: Progress = None,
) -> BulkOutcome:
    """The re-consent campaign (the migration's journey without the legacy part): each site
    whose grant lacks Jira Software's scopes gets its re-consent case (``reconsent_case_open``)
    and the case its invitation (``campaign.invite_many``, 200 per transaction); a case
    already invited is left to the reminders. Sites that need nothing are skipped, saying why."""
    outcome = BulkOutcome(
        "re-consent invitations would be sent" if dry_run else "re-consent invitations sent",
        one="re-consent invitation would be sent" if dry_run else "re-consent invitation sent",
    )
    due_at = due_at or timezone.now() + timedelta(days=RECONSENT_DUE_DAYS)
    needing = sites_needing_reconsent()
    for batch in _batched(sites):
        wanted = set(
            needing.filter(pk__in=[site.pk for site in batch]).values_list("pk", flat=True)
        )
        existing = {
            case.site_id: case
            for case in MigrationCase.objects.select_related("site__tenant").filter(
                site__in=[site.pk for site in batch], purpose=MigrationCase.Purpose.RECONSENT
            )
        }
        cases = []
        for site in batch:
            label = f"{site.url} ({site.tenant.slug})"
            case = existing.get(site.pk)
            if site.pk not in wanted:
                outcome.skip(label, _not_needing_reconsent(site))
            elif dry_run:
                if case is not None and case.state not in (
                    *TO_INVITE,
                    MigrationCase.State.COMPLETED,
                ):
                    outcome.skip(label, f"already {case.get_state_display().lower()}")
                else:
                    outcome.ok(label)
            else:
                try:
                    cases.append(
                        reconsent_case_open(
                            site=site, due_at=due_at, acting_user=acting_user, request=request
                        )
                    )
                except DomainError as exc:
                    outcome.fail(label, str(exc))
                else:
                    continue
            _tick(progress)
        _invite_batch(cases, outcome, acting_user, request, dry_run, progress)
    return outcome


# ------------------------------------------------------------------------ grants


def refresh_grants(
    grants: Iterable[OAuthGrant], *, dry_run: bool = False, progress: Progress = None
) -> BulkOutcome:
    """Refresh each active grant now (single-flight under its row lock, ``tenants.tokens``)."""

    outcome = BulkOutcome(
        "grants would be refreshed" if dry_run else "grants refreshed",
        one="grant would be refreshed" if dry_run else "grant refreshed",
    )
    for grant in grants:
        label = str(grant)
        if grant.status != OAuthGrant.Status.ACTIVE:
            outcome.skip(label, f"grant is {grant.get_status_display().lower()}")
        elif dry_run:
            outcome.ok(label)
        else:
            try:
                refresh_grant(grant.pk, force=True)
            except SiteNeedsReauthorization as exc:
                outcome.fail(label, f"needs re-authorization: {exc.reason}")
            except TokenUnavailable as exc:
                outcome.fail(label, str(exc))
            else:
                outcome.ok(label)
        _tick(progress)
    return outcome


def reconcile_grants(
    grants: Iterable[OAuthGrant], *, dry_run: bool = False, progress: Progress = None
) -> BulkOutcome:
    """accessible-resources against the database (``tenants.upkeep.reconcile_grant_sites``):
    sites a grant no longer reaches become ``disconnected``."""

    outcome = BulkOutcome(
        "grants would be reconciled" if dry_run else "grants reconciled",
        one="grant would be reconciled" if dry_run else "grant reconciled",
    )
    for grant in grants:
        label = str(grant)
        if grant.status != OAuthGrant.Status.ACTIVE:
            outcome.skip(label, f"grant is {grant.get_status_display().lower()}")
        elif dry_run:
            outcome.ok(label)
        else:
            try:
                lost = reconcile_grant_sites(grant_id=grant.pk)
            except TokenUnavailable as exc:
                outcome.fail(label, str(exc))
            else:
                if lost:
                    outcome.fail(label, f"no longer reaches {', '.join(lost)} (disconnected)")
                else:
                    outcome.ok(label)
        _tick(progress)
    return outcome


# ------------------------------------------------------------------------ cases, tenants


def mark_exempt(
    cases: Iterable[MigrationCase],
    *,
    justification: str,
    acting_user: User,
    request: HttpRequest | None = None,
) -> BulkOutcome:

    outcome = BulkOutcome("cases exempted", one="case exempted")
    for case in cases:
        label = _label(case)
        if case.state in CLOSED:
            outcome.skip(label, f"case is already {case.state}")
            continue
        try:
            migration_case_mark_exempt(
                case=case,
                justification=justification,
                approved_by=acting_user,
                acting_user=acting_user,
                request=request,
            )
        except DomainError as exc:
            outcome.fail(label, str(exc))
        else:
            outcome.ok(label)
    return outcome


def suspend_tenants(
    tenants: Iterable[Tenant],
    *,
    reason: str,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> BulkOutcome:

    outcome = BulkOutcome("tenants suspended", one="tenant suspended")
    for tenant in tenants:
        if tenant.status != Tenant.Status.ACTIVE:
            outcome.skip(tenant.slug, f"already {tenant.status}")
            continue
        try:
            tenant_suspend(tenant=tenant, reason=reason, acting_user=acting_user, request=request)
        except DomainError as exc:
            outcome.fail(tenant.slug, str(exc))
        else:
            outcome.ok(tenant.slug)
    return outcome


# ------------------------------------------------------------------------ legacy credentials

# Cases that prove the site now runs on the vendor grant.
MIGRATED_CASE_STATES = (MigrationCase.State.CUT_OVER, MigrationCase.State.COMPLETED)


def purge_blocker(credential: LegacyCredential) -> str:
    """Why the credential is not verified as migrated ("" when it is): no site may still use
    it, and each of its migration cases must have cut over (or completed)."""
    if credential.sites.exists():
        return "still used by a site"
    states = set(credential.migration_cases.values_list("state", flat=True))
    if not states:
        return "no migration case shows it was replaced"
    if not states <= set(MIGRATED_CASE_STATES):
        return "its migration case is not cut over yet"
    return ""


def purge_legacy_credentials(
    credentials: Iterable[LegacyCredential],
    *,
    reason: str,
    acting_user: User | None,
    confirmed: Iterable[str] = (),
    request: HttpRequest | None = None,
    dry_run: bool = False,
    progress: Progress = None,
) -> BulkOutcome:
    """Crypto-shred legacy credentials that are verified as migrated; any other one only when
    its id is in ``confirmed`` (an explicit, per-credential decision)."""

    confirmed = {str(c) for c in confirmed}
    outcome = BulkOutcome(
        "credentials would be purged" if dry_run else "credentials purged",
        one="credential would be purged" if dry_run else "credential purged",
    )
    for credential in credentials:
        label = f"{credential.pk} ({credential.site_url or credential.tenant_id})"
        blocker = "" if str(credential.pk) in confirmed else purge_blocker(credential)
        if credential.status == LegacyCredential.Status.PURGED:
            outcome.skip(label, "already purged")
        elif blocker:
            outcome.skip(label, f"{blocker} (confirm it explicitly to purge anyway)")
        elif dry_run:
            outcome.ok(label)
        else:
            try:
                legacy_credential_purge(
                    credential=credential, reason=reason, acting_user=acting_user, request=request
                )
            except DomainError as exc:
                outcome.fail(label, str(exc))
            else:
                outcome.ok(label)
        _tick(progress)
    return outcome


# ------------------------------------------------------------------------ rate-limit tiers


def set_pools(
    sites: Iterable[JiraSite],
    *,
    plan: str,
    users: int,
    acting_user: User | None,
    request: HttpRequest | None = None,
) -> BulkOutcome:
    """Put each site on Tier 2 with ``plan`` and ``users`` (``plan`` empty: back on Tier 1)."""
    from tenants.services import site_set_pool

    outcome = BulkOutcome("sites' pools set", one="site's pool set")
    for site in sites:
        try:
            changed = site_set_pool(
                site=site, plan=plan, users=users, acting_user=acting_user, request=request
            )
        except DomainError as exc:
            outcome.fail(site.url, str(exc))
            continue
        if changed:
            outcome.ok(site.url)
        else:
            outcome.skip(site.url, "already on that pool")
    return outcome


# ------------------------------------------------------------------------ backups


def run_backups(
    sites: Iterable[JiraSite],
    *,
    acting_user: User | None,
    kind: str = "incremental",
    dry_run: bool = False,
    progress: Progress = None,
) -> BulkOutcome:
    """Queue a backup of each site now (``backups.services.backup_job_enqueue``)."""

    outcome = BulkOutcome(
        "backups would be queued" if dry_run else "backups queued",
        one="backup would be queued" if dry_run else "backup queued",
    )
    for site in sites:
        label = site.url
        if dry_run:
            if active_job(site=site) is not None:
                outcome.skip(label, "a backup is already running")
            else:
                outcome.ok(label)
        else:
            try:
                _job, created = backup_job_enqueue(site=site, kind=kind, acting_user=acting_user)
            except BackupRefused as exc:
                outcome.skip(label, str(exc).replace(site.url, "site"))
            else:
                if created:
                    outcome.ok(label)
                else:
                    outcome.skip(label, "a backup is already running")
        _tick(progress)
    return outcome
