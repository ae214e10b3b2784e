"""The current code of an authenticator app (TOTP), for signing in to the local demo without a
phone: of a user's app once it is set up, or of the secret the set-up page shows."""

from __future__ import annotations

import binascii
import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt
from django.conf import settings
from django.contrib.auth import get_user_model

from kit.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Print the current six-digit code an authenticator app would show: for a user whose "
        "app is set up (EMAIL, default admin@example.com), or for --secret, the secret the "
        "set-up page shows. A code works once, within its 30 seconds. For the local demo only: "
        "refused unless DEBUG is on. Exit 0 printed, 2 DEBUG is off, unknown user, no app set "
        "up yet, or not a valid secret."
    )
    writes = False

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "user",
            nargs="?",
            default="admin@example.com",
            metavar="EMAIL",
            help="The user (admin@example.com).",
        )
        parser.add_argument("--secret", default="", help="The secret of the set-up page.")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise self.usage_error(
                "totp_code only works with DEBUG on (the local demo); use an authenticator app"
            )
        secret = options["secret"].replace(" ", "").upper() or self._secret_of(options["user"])
        now = int(time.time())
        period = mfa_settings.TOTP_PERIOD
        try:
            code = format_hotp_value(hotp_value(secret, now // period))
        except (binascii.Error, ValueError):
            raise self.usage_error(
                "--secret is not a base32 secret like the set-up page shows"
            ) from None
        left = period - now % period
        upcoming = format_hotp_value(hotp_value(secret, now // period + 1))
        who = "the secret given" if options["secret"] else options["user"]
        if self.machine_readable(options):
            self.write_rows(
                [{"for": who, "code": code, "valid_for_seconds": left, "next_code": upcoming}],
                options,
            )
        # Too little time left to type it: the next one is ready too.
        then = f"; then {upcoming}" if left < 10 else ""
        self.summary(f"{code}  (for {who}; valid for {left} more seconds{then})", options)

    def _secret_of(self, email: str) -> str:
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise self.usage_error(f"unknown user: {email}")
        app = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
        if app is None:
            raise self.usage_error(
                f"{email} has no authenticator app yet: on the set-up page, run this with "
                "--secret and the secret shown there"
            )
        return decrypt(app.data["secret"])
