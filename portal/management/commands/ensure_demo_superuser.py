import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create the local demo superuser (admin@example.com) with the password from"
        " DEMO_ADMIN_PASSWORD and a verified e-mail. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args, email, **options):
        password = os.environ.get("DEMO_ADMIN_PASSWORD")
        if not password:
            raise CommandError("DEMO_ADMIN_PASSWORD is not set (make run writes it to .env)")
        from allauth.account.models import EmailAddress

        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=email, defaults={"email": email, "is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        state = "created" if created else "already present"
        self.stdout.write(f"demo superuser {email} {state}; password: {password}")
