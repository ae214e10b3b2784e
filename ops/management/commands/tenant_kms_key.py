"""manage.py tenant_kms_key --tenant SLUG [--key ARN|alias/NAME|platform]"""

from __future__ import annotations

from kit.commands import OperatorCommand
from tenants.exceptions import DomainError
from tenants.models import Tenant
from tenants.services import tenant_set_kms_key


class Command(OperatorCommand):
    help = (
        "A tenant's customer-managed key (issue 22): without --key, show which key wraps the "
        "tenant's snapshot data key; --key ARN or alias/NAME names the customer's own AWS KMS "
        "key, --key platform goes back to the platform's keys. The change is audited and takes "
        "effect at the next rotate_encryption_keys. Exit 0 done, 2 usage, unknown tenant or a "
        "key that is not a KMS ARN or alias."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--tenant", metavar="SLUG", required=True, help="The tenant.")
        parser.add_argument("--key", metavar="KEY", help="ARN, alias/NAME, or 'platform'.")

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise self.usage_error(f"unknown tenant: {options['tenant']}")
        key = options["key"]
        if key is None:
            self.write_rows([_row(tenant)], options)
            self.summary(f"{tenant.slug}: {_name(tenant.kms_key_id)}", options)
            return
        value = "" if key.strip() == "platform" else key
        if options["dry_run"]:
            if value and not value.strip().startswith(("arn:aws:kms:", "alias/")):
                raise self.usage_error(
                    "a KMS key is named by its ARN (arn:aws:kms:…) or an alias (alias/…)"
                )
            self.write_rows([_row(tenant)], options)
            self.summary(f"{tenant.slug} would use {_name(value.strip())}", options)
            return
        try:
            tenant = tenant_set_kms_key(tenant=tenant, kms_key_id=value, acting_user=None)
        except DomainError as exc:
            raise self.usage_error(str(exc)) from None
        self.write_rows([_row(tenant)], options)
        self.summary(f"{tenant.slug} now uses {_name(tenant.kms_key_id)}", options)


def _name(kms_key_id: str) -> str:
    return f"the customer's KMS key {kms_key_id}" if kms_key_id else "the platform's keys"


def _row(tenant: Tenant) -> dict:
    return {"tenant": tenant.slug, "key": tenant.kms_key_id or "platform"}
