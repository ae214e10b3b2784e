from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"
    verbose_name = "Backups and restores"

    def ready(self) -> None:
        # tenants never imports backups: it announces site changes and backups listens.
        from tenants.signals import sites_changed

        sites_changed.connect(_sites_changed, weak=False, dispatch_uid="backups-sites-changed")


def _sites_changed(*, site_ids, **_kwargs) -> None:
    from backups.services import schedules_follow_sites

    schedules_follow_sites(site_ids=site_ids)
