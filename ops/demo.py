"""The local demo world (``manage.py seed_demo``), built through the real flows against the
sandbox: customers connect through the portal's connect flow (``portal.flows``, called directly
as the tenant owner; real HTTP to the sandbox's authorize and token endpoints), migration cases
move through the campaign services and the wizard's own steps (``portal.flows.migration``: the
consent, its verification, the cut-over, the removal), grants fall ill the way they do in
production (a revoked consent meets a refresh), and snapshots come from real backups.

The seeder answers the sandbox's consent page by script, one consent at a time, and hands it
back to people afterwards: when seeding is done the consent page shows itself, so the demo's
first "Authorize on Atlassian" meets it as a customer would.

The world agrees with ``LEGACY_CUTOFF``: no case is due after it, and once it has passed the
sites still on a legacy credential are paused ("re-authorization required") as the daily beat
task would pause them.

Idempotent: each demo tenant is built once (its slug is the marker); a second run skips it.
The sandbox keeps its world in memory. After a restart the seeder gives it back the sites of
the demo tenants seeded before (same cloud id, same site administrator: the customer journey
still works), but not their grants: refreshing those marks them needs_reauth, which is what
production would do too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.flows import callback, oauth
from portal.flows import migration as wizard
from tenants.models import JiraSite, MigrationCase, OAuthGrant, Tenant, User

logger = logging.getLogger(__name__)

S = MigrationCase.State
PREFIX = "demo-"

# Migration cases: tenant name -> the states the case walks through, in order. "verified" is
# the wizard's consent (consented and verified in one callback: a case never rests between).
MIGRATIONS: dict[str, list[str]] = {
    "Umbrella": [],  # pending, past due
    "Hooli": [S.INVITED],  # the customer journey to try: the invitation is waiting
    "Stark": [S.INVITED, S.INVITE_EXPIRED],
    "Wayne": [S.FAILED],
    "Tyrell": [S.EXEMPT],
    "Soylent": [S.INVITED, S.VERIFIED],
    "Oscorp": [S.INVITED, S.VERIFIED, S.CUT_OVER],
    "Aperture": [S.INVITED, S.VERIFIED, S.CUT_OVER, S.COMPLETED],
}
# The customer journey the README suggests: this customer's invitation is waiting.
JOURNEY = "Hooli"
# Vendor-grant customers: name -> grant health at the end.
CONNECTED = {"Acme": "active", "Globex": "needs_reauth", "Initech": "revoked"}


class SandboxControl:
    """The sandbox's control API (``/_sandbox/``), over the one HTTP client's session."""

    def __init__(self, base_url: str) -> None:
        from atlassian.client import new_session

        self.base = base_url.rstrip("/")
        self.http = new_session()

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.get("state")
                return
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the sandbox at {self.base} did not answer") from None
                time.sleep(0.5)

    def get(self, path: str):
        response = self.http.get(f"{self.base}/_sandbox/{path}", timeout=10)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict):
        response = self.http.post(f"{self.base}/_sandbox/{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def authorize(self, location: str) -> dict[str, str]:
        """Follow the (scripted) consent page; returns the query of the callback it sends the
        browser to."""
        answer = self.http.get(location, allow_redirects=False, timeout=10)
        if answer.status_code != 302:
            raise RuntimeError(f"the sandbox consent page answered {answer.status_code}")
        return dict(parse_qsl(urlsplit(answer.headers["Location"]).query))


class DemoSeeder:
    def __init__(self, sandbox: SandboxControl, say: Callable[[str], None] = print) -> None:
        self.sandbox = sandbox
        self.say = say

    # ------------------------------------------------------------------ building blocks

    def tenant(self, name: str) -> tuple[Tenant, User] | None:
        """A fresh demo tenant with an owner, or None when it exists (already seeded)."""
        from tenants.services import membership_add, tenant_create

        slug = f"{PREFIX}{name.lower()}"
        if Tenant.objects.filter(slug=slug).exists():
            return None
        tenant = tenant_create(
            name=f"{name} (demo)",
            slug=slug,
            contact_emails=[f"it@{name.lower()}.example.com"],
            acting_user=None,
        )
        owner, _ = User.objects.get_or_create(
            username=f"owner@{name.lower()}.example.com",
            defaults={"email": f"owner@{name.lower()}.example.com"},
        )
        membership_add(tenant=tenant, user=owner, role="owner", acting_user=None)
        return tenant, owner

    def sandbox_site(self, name: str) -> tuple[dict, str]:
        """A sandbox site for the customer and an Atlassian account that administers it."""
        site_name = name.lower()
        state = self.sandbox.get("state")
        sites = {s["name"]: s for s in state.get("sites", [])}
        email = site_admin_email(name)
        if site_name not in sites:
            self.sandbox.post("sites", {"name": site_name, "projects": 2, "issues": 15})
        self.sandbox.post("users", {"email": email, "admin_of": [site_name]})
        sites = {s["name"]: s for s in self.sandbox.get("state").get("sites", [])}
        return sites[site_name], email

    def consent_as(self, email: str, site_name: str, start: Callable[[], str]) -> dict[str, str]:
        """The sandbox's consent page answered by script as ``email`` choosing ``site_name``
        for the consent ``start()`` begins; the page is a person's again afterwards."""
        self.sandbox.post("consent", {"email": email, "sites": [site_name]})
        try:
            return self.sandbox.authorize(start())
        finally:
            self.sandbox.post("consent", {"auto": False})

    def caller(self, tenant: Tenant, owner: User) -> oauth.Caller:
        """The tenant owner, in a session of the seeder's own (the state is bound to it)."""
        return oauth.Caller(user=owner, session_key=f"seed-demo:{tenant.slug}")

    def connect(self, tenant: Tenant, owner: User, *, email: str, site_name: str) -> OAuthGrant:
        """The portal's connect flow, as the tenant owner consenting in the sandbox."""
        caller = self.caller(tenant, owner)
        answer = self.consent_as(
            email, site_name, lambda: oauth.start(caller=caller, tenant=tenant)
        )
        result = callback.handle_callback(caller=caller, params=answer)
        if result.outcome != "connected":
            raise RuntimeError(f"connect for {tenant.slug} ended {result.outcome}")
        return OAuthGrant.objects.get(grant_sites__site__tenant=tenant)

    def wizard_step(
        self, case: MigrationCase, owner: User, state: str, *, email: str, site_name: str
    ) -> None:
        """One step of the migration wizard, as the tenant owner takes it."""
        caller = self.caller(case.site.tenant, owner)
        if state == S.VERIFIED:
            answer = self.consent_as(
                email, site_name, lambda: wizard.authorize_start(caller=caller, case=case)
            )
            result = callback.handle_callback(caller=caller, params=answer)
            if result.outcome != "verified":
                raise RuntimeError(f"the wizard's consent for {case} ended {result.outcome}")
        elif state == S.CUT_OVER:
            wizard.cut_over(caller=caller, case=case)
        elif state == S.COMPLETED:
            wizard.remove_legacy(caller=caller, case=case, confirmed=True)
        else:
            raise ValueError(f"no wizard step leads to {state}")

    def backup(self, site: JiraSite, kind: str, *, rounds: int = 300) -> None:
        """A real backup, run in this process to its end (the worker may help: the lease
        keeps one runner at a time)."""
        from backups.engine.runner import run_job
        from backups.models import BackupJob
        from backups.services import backup_job_enqueue

        job, _ = backup_job_enqueue(site=site, kind=kind, acting_user=None)
        for _ in range(rounds):
            outcome = run_job(job.pk, slice_seconds=600)
            job.refresh_from_db()
            if job.status not in (BackupJob.Status.QUEUED, BackupJob.Status.RUNNING):
                break
            time.sleep(min(getattr(outcome, "countdown", 0.2) or 0.2, 2.0))
        self.say(f"  backup of {site.url}: {job.status} {job.status_reason}".rstrip())

    # ------------------------------------------------------------------ scenarios

    def connected_customer(self, name: str, health: str) -> None:
        from backups.models import BackupSchedule
        from backups.services import schedule_create
        from tenants.services import grant_revoke
        from tenants.tokens import SiteNeedsReauthorization, refresh_grant

        # All or nothing up to the connection, so an interrupted run leaves no half customer.
        with transaction.atomic():
            made = self.tenant(name)
            if made is None:
                return
            tenant, owner = made
            remote, email = self.sandbox_site(name)
            grant = self.connect(tenant, owner, email=email, site_name=remote["name"])
            site = JiraSite.objects.get(tenant=tenant)
            if not BackupSchedule.objects.filter(site=site).exists():
                schedule_create(site=site, acting_user=None, interval_hours=24)
        self.backup(site, "full")
        if health == "active":
            self.backup(site, "incremental")
        elif health == "needs_reauth":
            self.sandbox.post("grants/revoke", {"email": email})
            try:
                refresh_grant(grant.pk, force=True)
            except SiteNeedsReauthorization:
                pass
        elif health == "revoked":
            grant_revoke(grant=grant, reason="customer disconnected the app", acting_user=None)
        grant.refresh_from_db()
        self.say(f"{tenant.slug}: vendor grant {grant.status}")

    @transaction.atomic
    def migrating_customer(self, name: str, path: list[str]) -> None:
        from tenants.services import (
            legacy_credential_create,
            migration_case_mark_exempt,
            migration_case_open,
            migration_case_transition,
            site_create,
            site_use_legacy_credential,
        )
        from tenants.services.campaigns import migration_invite_send

        made = self.tenant(name)
        if made is None:
            return
        tenant, owner = made
        remote, email = self.sandbox_site(name)
        credential = legacy_credential_create(
            tenant=tenant,
            kind="api_token",
            site_url=remote["url"],
            email=email,
            api_token="demo-token-withheld-after-cutoff",
            acting_user=None,
        )
        site = site_create(
            tenant=tenant,
            cloud_id=remote["cloud_id"],
            url=remote["url"],
            name=remote["name"],
            acting_user=None,
        )
        site = site_use_legacy_credential(site=site, credential=credential, acting_user=None)
        case = migration_case_open(site=site, due_at=demo_due_date(path), acting_user=None)
        staff = User.objects.filter(is_staff=True, is_active=True).first()
        for state in path:
            if state == S.INVITED:
                migration_invite_send(case=case, acting_user=None)
            elif state == S.EXEMPT:
                migration_case_mark_exempt(
                    case=case,
                    justification="on-premise move planned, approved by the account manager",
                    approved_by=staff,
                    acting_user=staff,
                )
            elif state in (S.FAILED, S.INVITE_EXPIRED):
                reason = "the customer is not a site administrator" if state == S.FAILED else ""
                migration_case_transition(case, to=state, reason=reason, acting_user=None)
            else:
                self.wizard_step(case, owner, state, email=email, site_name=remote["name"])
            case.refresh_from_db()
        self.say(f"{tenant.slug}: migration case {case.state}")

    def after_cutoff(self) -> None:
        """Past ``LEGACY_CUTOFF``, the sites still on a legacy credential pause, as the daily
        beat task pauses them (``legacy_sites_pause_after_cutoff``)."""
        from tenants.services.campaigns import legacy_sites_pause_after_cutoff

        paused = legacy_sites_pause_after_cutoff()
        if paused:
            self.say(f"{len(paused)} legacy sites paused: LEGACY_CUTOFF has passed")

    def sandbox_sites_back(self) -> None:
        """The sandbox keeps its world in memory: after a restart, the sites of the demo tenants
        seeded by an earlier run are given back to it (same name and cloud id, same site
        administrator), so the customer journey still finds its site on the consent page."""
        remote = self.sandbox.get("state").get("sites", [])
        sites = (
            JiraSite.objects.filter(tenant__slug__startswith=PREFIX)
            .exclude(cloud_id__in=[s["cloud_id"] for s in remote])
            .exclude(name__in=[s["name"] for s in remote])  # a site of its own by that name
        )
        for site in sites.order_by("pk"):
            self.sandbox.post(
                "sites", {"name": site.name, "cloud_id": site.cloud_id, "projects": 2, "issues": 15}
            )
            self.sandbox.post(
                "users", {"email": site_admin_email(site.name), "admin_of": [site.name]}
            )
            self.say(f"sandbox: {site.name} given back (seeded by an earlier run)")

    def run(self) -> None:
        from ops.roles import sync_roles

        sync_roles()
        self.sandbox_sites_back()
        if not User.objects.filter(is_staff=True, is_active=True).exists():
            User.objects.create(username="demo-approver", is_staff=True)
        for name, health in CONNECTED.items():
            self.connected_customer(name, health)
        for name, path in MIGRATIONS.items():
            self.migrating_customer(name, path)
        self.after_cutoff()


def site_admin_email(name: str) -> str:
    """The sandbox's Atlassian account that administers the demo customer's site."""
    return f"admin@{name.lower()}.test"


def journey_case() -> MigrationCase | None:
    """The README's customer journey: the case whose invitation is waiting, if it still is."""
    return (
        MigrationCase.objects.select_related("site__tenant")
        .filter(site__tenant__slug=f"{PREFIX}{JOURNEY.lower()}", state=S.INVITED)
        .first()
    )


def demo_due_date(path: list[str], now: datetime | None = None) -> datetime:
    """A case waiting for the customer is due in 20 days, one never invited 10 days ago; never
    after ``LEGACY_CUTOFF`` (no legacy credential may be used past it)."""
    now = now or timezone.now()
    due = now + (timedelta(days=20) if path else timedelta(days=-10))
    return min(due, settings.LEGACY_CUTOFF)
