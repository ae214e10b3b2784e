"""Daily verification sampling (beat): every site's newest snapshot is checked at least weekly,
and a bounded number of objects across all sites is deep-verified each day.

Each day takes the newest complete snapshot of the sites verified longest ago (never first), as
many as ``PROTECTION_VERIFY_SITES_PER_DAY`` (default: a seventh of the sites with a snapshot, so
a week covers them all). Each is verified quickly (its manifest reads; every object it names is
stored with its size: a listing, no content read), and ``PROTECTION_VERIFY_SAMPLE_OBJECTS``
objects drawn at random across them are re-read and re-hashed. A problem opens a verification
incident for the site (staff: dashboard and webhook); a clean check closes it.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from backups.models import Snapshot
from backups.protection.incidents import verification_incident_close, verification_incident_open
from backups.snapshots.manifest import ManifestError
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from backups.snapshots.shards import ShardError
from backups.snapshots.verify import verify_snapshot
from tenants.models import JiraSite

logger = logging.getLogger(__name__)


@dataclass
class SampleReport:
    snapshots: list[str] = field(default_factory=list)
    objects_deep_verified: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)


def snapshots_to_verify(*, limit: int | None = None) -> list[Snapshot]:
    """The newest complete snapshot of each site, those verified longest ago first."""
    newest = (
        Snapshot.objects.filter(site=OuterRef("pk"), status=Snapshot.Status.COMPLETE)
        .order_by("-completed_at")
        .values("pk")[:1]
    )
    ids = (
        JiraSite.objects.exclude(status=JiraSite.Status.OFFBOARDED)
        .annotate(newest=Subquery(newest))
        .exclude(newest=None)
        .values_list("newest", flat=True)
    )
    ids = list(ids)
    if limit is None:
        limit = settings.PROTECTION_VERIFY_SITES_PER_DAY or math.ceil(len(ids) / 7)
    return list(
        Snapshot.objects.filter(pk__in=ids)
        .select_related("site__tenant")
        .order_by(F("last_verified_at").asc(nulls_first=True), "completed_at")[:limit]
    )


def _objects_of(snapshot: Snapshot) -> list[tuple[str, int]]:
    reader = SnapshotReader.open(snapshot.site.cloud_id, str(snapshot.id))
    return sorted(set(reader.stored_objects()))


def verify_sample(
    *,
    now: datetime | None = None,
    sample_objects: int | None = None,
    sites: int | None = None,
    rng: random.Random | None = None,
) -> SampleReport:
    now = now or timezone.now()
    rng = rng or random.Random()
    budget = settings.PROTECTION_VERIFY_SAMPLE_OBJECTS if sample_objects is None else sample_objects
    report = SampleReport()
    chosen = snapshots_to_verify(limit=sites)
    per_snapshot = math.ceil(budget / len(chosen)) if chosen and budget else 0
    for snapshot in chosen:
        sid, cloud_id = str(snapshot.id), snapshot.site.cloud_id
        problems = [str(p) for p in verify_snapshot(cloud_id, sid, deep=False)]
        if not problems and per_snapshot and report.objects_deep_verified < budget:
            take = min(per_snapshot, budget - report.objects_deep_verified)
            problems += _deep_sample(snapshot, take, rng, report)
        report.snapshots.append(sid)
        with transaction.atomic():
            Snapshot.objects.filter(pk=snapshot.pk).update(
                last_verified_at=now, last_verify_problems=problems[:100]
            )
            if problems:
                report.problems[sid] = problems
                verification_incident_open(site=snapshot.site, problems=problems, now=now)
            else:
                verification_incident_close(site=snapshot.site, now=now)
    if report.problems:
        logger.warning(
            "verification sampling found problems in %d snapshot(s)", len(report.problems)
        )
    return report


def _deep_sample(
    snapshot: Snapshot, take: int, rng: random.Random, report: SampleReport
) -> list[str]:
    sid, cloud_id = str(snapshot.id), snapshot.site.cloud_id
    try:
        objects = _objects_of(snapshot)
    except (ManifestError, ShardError, OSError, KeyError, TypeError, ValueError) as exc:
        return [f"snapshot {sid}: cannot list its objects ({exc})"]
    store = ObjectStore(cloud_id)
    problems = []
    for sha, size in rng.sample(objects, min(take, len(objects))):
        report.objects_deep_verified += 1
        damaged = store.body_problem(sha)  # a sealed object: its bytes against its digest
        if damaged is not None:
            problems.append(f"snapshot {sid}: {store.path(sha)}: {damaged}")
            continue
        try:
            found = store.hash_of_stored(sha)
        except OSError as exc:
            problems.append(f"snapshot {sid}: {store.path(sha)}: unreadable ({exc})")
            continue
        if found.sha256 != sha or found.size != size:
            problems.append(
                f"snapshot {sid}: {store.path(sha)}: content hashes to {found.sha256} "
                f"({found.size} bytes), not {sha} ({size} bytes)"
            )
    return problems
