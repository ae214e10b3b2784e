from django.apps import AppConfig


class AtlassianConfig(AppConfig):
    name = "atlassian"
    verbose_name = "Atlassian API usage"

    def ready(self) -> None:
        # Write the call ledger at the end of every Celery task (the process may live long
        # and idle; counts must not wait for the next request to be flushed).
        from celery.signals import task_postrun

        task_postrun.connect(_flush_ledger, weak=False, dispatch_uid="atlassian-ledger-flush")


def _flush_ledger(**_kwargs) -> None:
    from atlassian.ledger import flush

    flush()
