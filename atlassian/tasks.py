from celery import shared_task

from atlassian.services import call_stats_prune


@shared_task(name="atlassian.prune_call_ledger", max_retries=0)
def prune_call_ledger() -> int:
    """Drop ledger hours older than ATLASSIAN_LEDGER_RETENTION_DAYS (daily, from beat)."""
    return call_stats_prune()
