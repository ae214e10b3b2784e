"""Reads of the backups domain."""

from __future__ import annotations

from django.db.models import F

from backups.models import ACTIVE_STATUSES, BackupJob
from tenants.models import JiraSite


def newest_first() -> tuple:
    """Order of a site's snapshots, newest first; of two of the same moment, the compacted one
    (what the next incremental builds on, and what compaction looks at)."""
    return ("-completed_at", F("compacted_from").desc(nulls_last=True))


def active_job(*, site: JiraSite) -> BackupJob | None:
    return BackupJob.objects.filter(site=site, status__in=ACTIVE_STATUSES).first()


def site_by_reference(reference: str) -> JiraSite:
    """A site by primary key, cloud id, URL or name (what an operator types)."""
    ref = reference.strip().rstrip("/")
    queries = [{"cloud_id": ref}, {"url": ref}, {"url": f"https://{ref}"}, {"name": ref}]
    if ref.isdigit():
        queries.insert(0, {"pk": int(ref)})
    for query in queries:
        site = JiraSite.objects.filter(**query).first()
        if site is not None:
            return site
    raise JiraSite.DoesNotExist(f"no site matches {reference!r}")


def job_progress(job: BackupJob) -> dict:
    return {
        "status": job.status,
        "step": job.current_step,
        "done": job.objects_done,
        "total": job.objects_total,
        "points": job.points_spent,
        "checkpoint": job.last_checkpoint,
        "reason": job.status_reason,
    }
