"""Every write to the tenants domain. Each service takes keyword-only arguments, requires
``acting_user`` (None = the system) and writes its audit event in the same transaction."""

from tenants.services.encryption import encryption_rotate_keys
from tenants.services.grants import (
    grant_mark_needs_reauth,
    grant_mark_used,
    grant_revoke,
    grant_store_rotated_tokens,
    grant_upsert,
)
from tenants.services.holds import legal_hold_place, legal_hold_release, tenant_set_kms_key
from tenants.services.legacy import legacy_credential_create, legacy_credential_purge
from tenants.services.migration import (
    migration_case_mark_exempt,
    migration_case_mark_opened,
    migration_case_open,
    migration_case_transition,
    migration_notice_record,
    reconsent_case_open,
)
from tenants.services.sites import (
    site_create,
    site_link_to_tenant,
    site_set_pool,
    site_set_status,
    site_use_grant,
    site_use_legacy_credential,
)
from tenants.services.tenants import (
    membership_add,
    membership_change_role,
    membership_remove,
    tenant_create,
    tenant_offboard,
    tenant_reactivate,
    tenant_suspend,
    tenant_update,
)

__all__ = [
    "encryption_rotate_keys",
    "grant_mark_needs_reauth",
    "grant_mark_used",
    "grant_revoke",
    "grant_store_rotated_tokens",
    "grant_upsert",
    "legacy_credential_create",
    "legacy_credential_purge",
    "legal_hold_place",
    "legal_hold_release",
    "membership_add",
    "membership_change_role",
    "membership_remove",
    "migration_case_mark_exempt",
    "migration_case_mark_opened",
    "migration_case_open",
    "migration_case_transition",
    "migration_notice_record",
    "reconsent_case_open",
    "site_create",
    "site_link_to_tenant",
    "site_set_pool",
    "site_set_status",
    "site_use_grant",
    "site_use_legacy_credential",
    "tenant_create",
    "tenant_offboard",
    "tenant_reactivate",
    "tenant_set_kms_key",
    "tenant_suspend",
    "tenant_update",
]
