from django.apps import AppConfig


class AtlassianConfig(AppConfig):
    name = "atlassian"
    verbose_name = "Atlassian API usage"

    def ready(self) -> None:
        # The call ledger buffers in memory; write it whenever a unit of work ends, so the
        # counts never wait for the next request of a long-lived, idle process:
        # - at the end of every Celery task (workers),
        # - when a prefork child shuts down (billiard children leave with os._exit, which
        #   skips atexit),
        # - at the end of every web request (a flush with nothing buffered is a dict check).
        # Management commands and other processes are covered by client.close() and atexit.
        from celery.signals import task_postrun, worker_process_shutdown
        from django.core.signals import request_finished

        task_postrun.connect(_flush_ledger, weak=False, dispatch_uid="atlassian-ledger-flush")
        worker_process_shutdown.connect(
            _flush_ledger, weak=False, dispatch_uid="atlassian-ledger-flush-shutdown"
        )
        request_finished.connect(
            _flush_ledger, weak=False, dispatch_uid="atlassian-ledger-flush-request"
        )


def _flush_ledger(**_kwargs) -> None:
    from atlassian.ledger import ledger

    # Cheap when empty: no database connection is touched (which also keeps tests that
    # forbid database access happy).
    if ledger.pending():
        from atlassian.ledger import flush

        flush()
