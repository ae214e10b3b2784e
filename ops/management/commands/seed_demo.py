"""Build the local demo world through the real flows against the sandbox (see
``ops.demo``): customers in every migration state, grants in every health state, real
snapshots from real backups. Idempotent; `make run` calls it once the sandbox is up.

What the seeding says as it goes (its progress, the services' log lines and, with the console
e-mail backend, every e-mail it sends) goes to a log file; the terminal gets one row per demo
tenant and the way in: the staff sign-in (with the password) and the customer journey to try.
``-v 2`` prints everything as it happens."""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from kit.commands import OperatorCommand
from kit.outcomes import counted
from ops.demo import (
    CONNECTED,
    JOURNEY,
    MIGRATIONS,
    PREFIX,
    DemoSeeder,
    SandboxControl,
    journey_case,
    site_admin_email,
)
from tenants.models import MigrationCase, OAuthGrant, Tenant
from tenants.services.campaigns import invite_url

DEMO_ADMIN = "admin@example.com"


class Command(OperatorCommand):
    help = (
        "Seed the demo tenants (every migration state, every grant health state, real "
        "snapshots) through the connect flow and the services, against the sandbox at "
        "ATLASSIAN_AUTH_URL. A second run adds nothing. The details go to --log-file "
        "(VAR_DIR/seed-demo.log); -v 2 prints them too. --dry-run lists what would be "
        "seeded and contacts nothing. Exit 0 done, 1 the sandbox or a flow failed."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--sandbox-url",
            default="",
            help="The sandbox's base URL (default: ATLASSIAN_AUTH_URL).",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            metavar="SECONDS",
            help="Wait this long for the sandbox to answer first (make run starts it alongside).",
        )
        parser.add_argument(
            "--log-file",
            default="",
            help="Where the seeding's details go (default: VAR_DIR/seed-demo.log).",
        )

    def handle(self, *args, **options):
        existing = set(
            Tenant.objects.filter(slug__startswith=PREFIX).values_list("slug", flat=True)
        )
        if options["dry_run"]:
            rows = [
                {
                    "tenant": slug,
                    "story": story,
                    "result": "already there" if slug in existing else "would be seeded",
                }
                for slug, story in _stories()
            ]
            self.write_rows(rows, options, ["tenant", "story", "result"])
            missing = sum(1 for row in rows if row["result"] != "already there")
            self.summary(
                f"{counted(missing, 'demo tenant would be seeded', 'demo tenants would be seeded')}"
                f", {len(rows) - missing} already there",
                options,
            )
            return
        url = options["sandbox_url"] or settings.ATLASSIAN_AUTH_URL
        log_path = Path(options["log_file"] or Path(settings.VAR_DIR) / "seed-demo.log")
        verbose = options["verbosity"] >= 2
        with _details_to(None if verbose else log_path) as say:
            sandbox = SandboxControl(url)
            try:
                if options["wait"]:
                    say(f"waiting up to {options['wait']:g} s for the sandbox at {url}")
                    sandbox.wait(options["wait"])
                DemoSeeder(sandbox, say=say).run()
            except Exception as exc:
                logging.getLogger(__name__).exception("seeding the demo failed")
                where = "" if verbose else f" (details: {log_path})"
                raise self.failure(f"seeding the demo failed: {exc}{where}") from exc
        rows = _outcome(existing)
        self.write_rows(rows, options, ["tenant", "story", "result"])
        seeded = sum(1 for row in rows if row["result"] == "seeded")
        self.summary(
            f"demo seeded: {counted(seeded, 'demo tenant created', 'demo tenants created')}, "
            f"{len(rows) - seeded} already there" + ("" if verbose else f"; details in {log_path}"),
            options,
        )
        if not self.machine_readable(options):
            self._way_in()

    def _way_in(self) -> None:
        """The last lines of `make run`'s seeding: where to go and who to be."""
        site = settings.SITE_URL.rstrip("/")
        password = os.environ.get("DEMO_ADMIN_PASSWORD", "(DEMO_ADMIN_PASSWORD in .env)")
        for line in (
            "",
            f"  Staff admin   {site}/admin/",
            f"  Sign in as    {DEMO_ADMIN}   password: {password}",
            "  Two-factor    the first sign-in sets up an authenticator app; without a phone:",
            "                .venv/bin/python manage.py totp_code --secret <the secret shown>",
            "                (later sign-ins: .venv/bin/python manage.py totp_code)",
            *self._journey(),
            "  What to try   README.md, 'The demo'",
            "",
        ):
            self.stdout.write(line)

    def _journey(self) -> list[str]:
        """The customer's way in: the invitation the README's journey starts from."""
        case = journey_case()
        if case is None:
            return []
        tenant = case.site.tenant
        email = tenant.contact_emails[0]
        return [
            f"  Customer      {tenant.name} is invited to move {case.site.url}; open as {email}:",
            f"                {invite_url(case=case, email=email)}",
            "                (create the account there; the confirmation e-mail appears in",
            "                this terminal, under 'web')",
            f"  On Atlassian  the sandbox's consent page: {site_admin_email(JOURNEY)}, "
            f"'Use app on' {case.site.name}",
        ]


def _stories() -> list[tuple[str, str]]:
    """(slug, what the tenant shows) for every demo tenant, in seeding order."""
    stories = [
        (f"{PREFIX}{name.lower()}", f"vendor grant {health}") for name, health in CONNECTED.items()
    ]
    for name, path in MIGRATIONS.items():
        state = path[-1] if path else MigrationCase.State.PENDING
        stories.append((f"{PREFIX}{name.lower()}", f"migration case {state}"))
    return stories


def _outcome(existing: set[str]) -> list[dict]:
    """What each demo tenant shows now, read back from the database."""
    grants = dict(
        OAuthGrant.objects.filter(grant_sites__site__tenant__slug__startswith=PREFIX).values_list(
            "grant_sites__site__tenant__slug", "status"
        )
    )
    cases = dict(
        MigrationCase.objects.filter(site__tenant__slug__startswith=PREFIX).values_list(
            "site__tenant__slug", "state"
        )
    )
    rows = []
    for slug, _planned in _stories():
        if slug in cases:
            story = f"migration case {cases[slug]}"
        elif slug in grants:
            story = f"vendor grant {grants[slug]}"
        else:
            story = "-"
        rows.append(
            {
                "tenant": slug,
                "story": story,
                "result": "already there" if slug in existing else "seeded",
            }
        )
    return rows


@contextmanager
def _details_to(path: Path | None):
    """Yields ``say(line)``. With a path, the details go there: ``say``, the root logger's
    records (through the same redaction filters and format as the console's) and stdout
    (the console e-mail backend prints every e-mail there)."""
    if path is None:
        yield lambda line: print(line, file=sys.stderr, flush=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    consoles = list(root.handlers)
    with path.open("a", encoding="utf-8") as log:
        log.write(f"\n=== seed_demo, {timezone.now():%Y-%m-%d %H:%M:%S} UTC ===\n")
        handler = logging.StreamHandler(log)
        if consoles:
            handler.setFormatter(consoles[0].formatter)
            for log_filter in consoles[0].filters:
                handler.addFilter(log_filter)
        for console in consoles:
            root.removeHandler(console)
        root.addHandler(handler)
        try:
            with redirect_stdout(log):
                yield lambda line: print(line, file=log, flush=True)
        finally:
            root.removeHandler(handler)
            for console in consoles:
                root.addHandler(console)
