from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"
    verbose_name = "Backups and restores"

    def ready(self) -> None:
        # tenants never imports backups: it announces site changes and backups listens.
        from tenants.signals import sites_changed

        sites_changed.connect(_sites_changed, weak=False, dispatch_uid="backups-sites-changed")


def _sites_changed(*, site_ids, reason: str = "changed", **_kwargs) -> None:
    from backups.protection.incidents import incidents_follow
    from backups.protection.policy import protection_apply
    from backups.protection.state import states_refresh
    from backups.services import schedules_follow_sites

    # A site connected, migrated, imported or reconnected gets its tenant's policy (a site that
    # has a schedule keeps it); every change moves its protection state in the same transaction.
    protection_apply(site_ids=site_ids, reason=reason)
    schedules_follow_sites(site_ids=site_ids)
    incidents_follow(states_refresh(site_ids=site_ids))
