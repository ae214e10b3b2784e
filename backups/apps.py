from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"
    verbose_name = "Backups and restores"

    def ready(self) -> None:
        # tenants never imports backups: it announces site changes and backups listens.
        from tenants.signals import sites_changed

        sites_changed.connect(_sites_changed, weak=False, dispatch_uid="backups-sites-changed")
        # atlassian never imports backups either: a site that moved between Atlassian's tiers
        # (staff set its plan, or Atlassian's headers said so) moves its schedule's pool.
        from atlassian.pools import pools_changed

        pools_changed.connect(_pools_changed, weak=False, dispatch_uid="backups-pools-changed")


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


def _pools_changed(*, cloud_ids, reason: str = "header", policy: str = "", **_kwargs) -> None:
    from backups.services import schedules_follow_sites
    from tenants.audit import record_event
    from tenants.models import JiraSite

    sites = list(JiraSite.objects.filter(cloud_id__in=list(cloud_ids)).select_related("tenant"))
    schedules_follow_sites(site_ids=[site.pk for site in sites])
    if reason != "header":
        return  # staff changes are audited by the service that made them
    for site in sites:
        record_event(
            actor=None,
            action="site.pool_learned",
            target=site,
            tenant=site.tenant,
            summary={"cloud_id": site.cloud_id, "policy": policy},
        )
