"""The local demo's superuser (`make run` calls this before starting the processes)."""

from __future__ import annotations

import os

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from kit.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Create the local demo superuser (admin@example.com) with the password from "
        "DEMO_ADMIN_PASSWORD and a verified e-mail address. Idempotent: an existing user keeps "
        "its password. Exit 0 done, 2 DEMO_ADMIN_PASSWORD is not set."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--email", default="admin@example.com", help="Its e-mail address.")

    def handle(self, *args, **options):
        email = options["email"]
        password = os.environ.get("DEMO_ADMIN_PASSWORD")
        if not password:
            raise self.usage_error("DEMO_ADMIN_PASSWORD is not set (make run writes it to .env)")
        user = get_user_model().objects.filter(username=email).first()
        if options["dry_run"]:
            state = "would be created" if user is None else "already present"
        else:
            user, created = get_user_model().objects.get_or_create(
                username=email, defaults={"email": email, "is_staff": True, "is_superuser": True}
            )
            if created:
                user.set_password(password)
                user.save(update_fields=["password"])
            EmailAddress.objects.update_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
            state = "created" if created else "already present"
        if self.machine_readable(options):
            self.write_rows([{"email": email, "result": state}], options)
        self.summary(f"demo superuser {email} {state}; password: {password}", options)
