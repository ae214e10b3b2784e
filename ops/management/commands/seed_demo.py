"""Build the local demo world through the real flows against the sandbox (see
``ops.demo``): customers in every migration state, grants in every health state, real
snapshots from real backups. Idempotent; `make run` calls it once the sandbox is up."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Seed demo tenants (every migration state, every grant health state, real snapshots) "
        "through the connect flow and the services, against the sandbox at ATLASSIAN_AUTH_URL. "
        "A second run adds nothing. Exit 0 done, 1 the sandbox or a flow failed."
    )

    def add_arguments(self, parser) -> None:
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

    def handle(self, *args, **options):
        from ops.demo import DemoSeeder, SandboxControl

        url = options["sandbox_url"] or settings.ATLASSIAN_AUTH_URL
        sandbox = SandboxControl(url)
        try:
            if options["wait"]:
                sandbox.wait(options["wait"])
            DemoSeeder(sandbox, say=self.stdout.write).run()
        except Exception as exc:
            raise CommandError(f"seeding the demo failed: {exc}", returncode=1) from exc
        self.stdout.write("demo seeded")
