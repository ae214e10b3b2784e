"""A site's protection state: its one definition (``state_expression``), stored per site
(``SiteProtection``) by ``states_refresh``, and the selectors every page, command and e-mail
reads it through.

The states, first match wins:

* **disconnected** — the site is disconnected (Atlassian no longer serves it to us);
* **unprotected** — no backup schedule (``no_schedule``) or a disabled one (``disabled``);
* **paused** — backups cannot run until someone acts: the site needs re-authorization
  (``reauth``), it is still on a legacy credential after ``LEGACY_CUTOFF`` (``legacy_cutoff``),
  or its last backup was refused a permission (``permission``);
* **failing** — its last backup failed;
* **overdue** — no complete snapshot within ``OVERDUE_INTERVALS`` of its interval (a new site:
  once its first window and that grace have passed; ``never_backed_up`` if it never had one);
* **protected** — otherwise.

Offboarded sites are ``retired`` and counted nowhere. The state is stored, and counted in
``ProtectionTally`` as it moves, so that a figure is a read of a few rows whatever the number of
sites (and a list of the sites in a state an index read of ``SiteProtection.state``); it is
recomputed in the
transaction that changes a site (``tenants.signals.sites_changed``) and by the beat pass
(``backups.protection.tasks.refresh``, every minute) for what time and job outcomes change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from backups.models import BackupJob, BackupSchedule, ProtectionTally, SiteProtection, Snapshot
from tenants.models import JiraSite, Tenant

S = SiteProtection.State
O = SiteProtection.Outcome  # noqa: E741 - the enum's one-letter alias, like S
# In the order pages show them.
STATES = (S.PROTECTED, S.OVERDUE, S.FAILING, S.PAUSED, S.UNPROTECTED, S.DISCONNECTED)
NOT_PROTECTED = (S.OVERDUE, S.FAILING, S.PAUSED, S.UNPROTECTED, S.DISCONNECTED)
# States whose schedule's next run will back the site up.
RUNNABLE = (S.PROTECTED, S.OVERDUE, S.FAILING)
DETAILS = {
    "reauth": "needs re-authorization",
    "legacy_cutoff": "legacy connection no longer allowed",
    "permission": "a permission is missing",
    "no_schedule": "no backup schedule",
    "disabled": "backup schedule disabled",
    "never_backed_up": "never backed up",
}


def _rules(now: datetime, prefix: str) -> list[tuple[Q, str, str]]:
    """(condition, state, detail) in order; ``prefix`` leads from the queried model to the site
    (``"site__"`` from ``SiteProtection``, ``""`` from ``JiraSite``)."""
    p = prefix
    own = "" if p else "protection__"  # the protection row's own columns
    schedule = f"{p}backup_schedule"
    legacy = Q(**{f"{p}legacy_credential__isnull": False, f"{p}grant__isnull": True})
    rules = [
        (Q(**{f"{p}status": JiraSite.Status.OFFBOARDED}), S.RETIRED, ""),
        (Q(**{f"{p}status": JiraSite.Status.DISCONNECTED}), S.DISCONNECTED, ""),
        (Q(**{f"{schedule}__isnull": True}), S.UNPROTECTED, "no_schedule"),
        (Q(**{f"{schedule}__enabled": False}), S.UNPROTECTED, "disabled"),
        (Q(**{f"{p}status": JiraSite.Status.NEEDS_REAUTH}) & legacy, S.PAUSED, "legacy_cutoff"),
        (Q(**{f"{p}status": JiraSite.Status.NEEDS_REAUTH}), S.PAUSED, "reauth"),
    ]
    if now >= settings.LEGACY_CUTOFF:
        rules.append((legacy, S.PAUSED, "legacy_cutoff"))
    rules += [
        (Q(**{f"{own}last_outcome": O.PAUSED}), S.PAUSED, "reauth"),
        (Q(**{f"{own}last_outcome": O.PERMISSION}), S.PAUSED, "permission"),
        (Q(**{f"{own}last_outcome": O.FAILED}), S.FAILING, ""),
        (Q(**{f"{schedule}__overdue_at__lt": now}), S.OVERDUE, ""),
        (
            Q(**{f"{schedule}__overdue_at__isnull": True})
            & (Q(**{f"{own}first_due_at__isnull": True}) | Q(**{f"{own}first_due_at__lt": now})),
            S.OVERDUE,
            "never_backed_up",
        ),
    ]
    return rules


def state_expression(*, now: datetime | None = None, prefix: str = "site__") -> tuple[Case, Case]:
    """The protection state and its detail as SQL expressions (the one definition)."""
    rules = _rules(now or timezone.now(), prefix)
    out = CharField()
    state = Case(
        *(When(q, then=Value(s)) for q, s, _ in rules), default=Value(S.PROTECTED), output_field=out
    )
    detail = Case(
        *(When(q, then=Value(d)) for q, _, d in rules), default=Value(""), output_field=out
    )
    return state, detail


@dataclass(frozen=True)
class Change:
    site_id: int
    before: str
    after: str
    detail: str


def rows_ensure(site_ids: list[int] | None) -> None:
    missing = JiraSite.objects.filter(protection__isnull=True)
    if site_ids is not None:
        missing = missing.filter(pk__in=site_ids)
    SiteProtection.objects.bulk_create(
        [SiteProtection(site_id=pk) for pk in missing.values_list("pk", flat=True)],
        ignore_conflicts=True,
    )


def states_refresh(
    *, site_ids: Iterable[int] | None = None, now: datetime | None = None
) -> list[Change]:
    """Recompute the stored state of ``site_ids`` (all sites when None) and write the rows whose
    state or detail changed: one query finds them (the database compares), then one UPDATE per
    kind of change (from, to, detail), conditioned on the state it was read with, so a change
    written meanwhile by another transaction is neither lost nor counted twice; the tally moves
    by what was written. Returns the changes, for ``incidents.incidents_follow``."""
    now = now or timezone.now()
    ids = None if site_ids is None else sorted(set(site_ids))
    rows_ensure(ids)
    state, detail = state_expression(now=now)
    rows = SiteProtection.objects.annotate(new_state=state, new_detail=detail).filter(
        ~Q(state=state) | ~Q(detail=detail)
    )
    if ids is not None:
        rows = rows.filter(site_id__in=ids)
    groups: dict[tuple[str, str, str], list[int]] = {}
    for site_id, before, after, new_detail in rows.order_by("pk").values_list(
        "site_id", "state", "new_state", "new_detail"
    ):
        groups.setdefault((before, after, new_detail), []).append(site_id)
    changes: list[Change] = []
    deltas: dict[str, int] = {}
    for (before, after, new_detail), site_ids_of in sorted(groups.items()):
        for start in range(0, len(site_ids_of), 1000):
            chunk = site_ids_of[start : start + 1000]
            written = SiteProtection.objects.filter(site_id__in=chunk, state=before).update(
                state=after, detail=new_detail, state_changed_at=now
            )
            if written != len(chunk):  # some moved meanwhile: keep only what this wrote
                chunk = list(
                    SiteProtection.objects.filter(
                        site_id__in=chunk, state=after, detail=new_detail, state_changed_at=now
                    ).values_list("site_id", flat=True)
                )
            changes += [Change(site_id, before, after, new_detail) for site_id in chunk]
            if before != after:
                deltas[before] = deltas.get(before, 0) - len(chunk)
                deltas[after] = deltas.get(after, 0) + len(chunk)
    _tally_add(deltas)
    return changes


def _tally_add(deltas: dict[str, int]) -> None:
    """Move the tally (rows in a fixed order, so two writers never wait on each other)."""
    for state in sorted(deltas):
        if state not in STATES or not deltas[state]:
            continue  # pending and retired sites are counted nowhere
        if not ProtectionTally.objects.filter(state=state).update(sites=F("sites") + deltas[state]):
            ProtectionTally.objects.get_or_create(state=state)
            ProtectionTally.objects.filter(state=state).update(sites=F("sites") + deltas[state])


def tally_recount() -> dict[str, int]:
    """Count the stored states again and set the tally to it (beat's sweep: it repairs a drift,
    e.g. a site deleted by hand). The tally rows are locked first, so a change committed while
    it counts is either in the count or added after it, never both."""
    for state in STATES:
        ProtectionTally.objects.get_or_create(state=state)
    list(ProtectionTally.objects.select_for_update().order_by("state"))
    found = dict(
        SiteProtection.objects.filter(state__in=STATES)
        .order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    for state in STATES:
        ProtectionTally.objects.filter(state=state).exclude(sites=found.get(state, 0)).update(
            sites=found.get(state, 0)
        )
    return {s: found.get(s, 0) for s in STATES}


# ----------------------------------------------------------------------------- selectors


def protection_counts(*, tenant: Tenant | None = None) -> dict[str, int]:
    """Sites per state (every state present, retired sites left out): the tally (six rows)
    for all sites; for one tenant, a grouped read of its few sites."""
    if tenant is None:
        found = dict(ProtectionTally.objects.values_list("state", "sites"))
    else:
        found = dict(
            SiteProtection.objects.filter(site__tenant=tenant, state__in=STATES)
            .order_by()
            .values_list("state")
            .annotate(n=Count("pk"))
        )
    return {s: found.get(s, 0) for s in STATES}


def sites_in_state(state: str, queryset: QuerySet[JiraSite] | None = None) -> QuerySet[JiraSite]:
    """The sites whose stored state is ``state`` (what every count of that state counts)."""
    queryset = JiraSite.objects.all() if queryset is None else queryset
    return queryset.filter(protection__state=state)


@dataclass
class SiteRow:
    """One line of the customer page, the tenant page, the report and the weekly e-mail."""

    site: JiraSite
    state: str
    detail: str
    reason: str
    last_success_at: datetime | None
    next_run_at: datetime | None
    snapshots: int
    stored_bytes: int
    interval_hours: int | None

    @property
    def state_label(self) -> str:
        return S(self.state).label if self.state in S.values else self.state

    @property
    def detail_label(self) -> str:
        return DETAILS.get(self.detail, "")


def site_rows(*, sites: QuerySet[JiraSite]) -> list[SiteRow]:
    """The protection of ``sites`` (a tenant's: a few), with each site's schedule and the count
    and size of its complete snapshots: three queries whatever the number of sites."""
    sites = list(
        sites.exclude(status=JiraSite.Status.OFFBOARDED)
        .select_related("protection", "backup_schedule", "tenant")
        .order_by("url", "pk")
    )
    ids = [s.pk for s in sites]
    stats = {
        row["site_id"]: row
        for row in Snapshot.objects.filter(site_id__in=ids, status=Snapshot.Status.COMPLETE)
        .order_by()
        .values("site_id")
        .annotate(n=Count("pk"), size=Sum("bytes_total"))
    }
    rows = []
    for site in sites:
        protection = getattr(site, "protection", None)
        schedule: BackupSchedule | None = getattr(site, "backup_schedule", None)
        stat = stats.get(site.pk, {})
        state = protection.state if protection else S.UNPROTECTED
        rows.append(
            SiteRow(
                site=site,
                state=state,
                detail=protection.detail if protection else "no_schedule",
                reason=_reason(site, protection),
                last_success_at=schedule.last_success_at if schedule else None,
                # A paused or disconnected site's schedule comes round but cannot back it up.
                next_run_at=schedule.next_run_at if schedule and state in RUNNABLE else None,
                snapshots=stat.get("n", 0),
                stored_bytes=stat.get("size") or 0,
                interval_hours=schedule.interval_hours if schedule else None,
            )
        )
    return rows


def _reason(site: JiraSite, protection: SiteProtection | None) -> str:
    if protection is None:
        return ""
    if protection.state in (S.FAILING, S.PAUSED) and protection.last_outcome_reason:
        if protection.detail in ("", "permission"):
            return protection.last_outcome_reason
    if protection.state in (S.PAUSED, S.DISCONNECTED):
        return site.status_reason
    return ""


def active_job_sites(site_ids: Iterable[int]) -> set[int]:
    """Which of these sites have a backup running now (the page says "running")."""
    return set(
        BackupJob.objects.filter(
            site_id__in=list(site_ids),
            status__in=[BackupJob.Status.QUEUED, BackupJob.Status.RUNNING],
        ).values_list("site_id", flat=True)
    )
