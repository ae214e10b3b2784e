"""Benchmark: daily retention pruning at 10,000 sites reads only the manifests that changed.

Each site has two complete snapshots (real manifests and objects in filesystem storage: two
shards each, one shared with the other snapshot) and keeps the newest two. The first daily pass
builds the reference counts (it reads every manifest and lists every site's objects once, which
is what the old pass did every five minutes); then, each day, a share of the sites gets a new
snapshot and the daily pass runs again. Targets: a day's pass reads exactly the manifests that
changed (each new snapshot, and each snapshot it pushed out of retention, read once to count its
objects down), a day without changes reads none, and neither lists storage.

Runs against a fresh database (``DATABASE_URL`` PostgreSQL if set, else SQLite) and writes its
section to docs/benchmarks_prune.md.

    python -m bench.prune_bench [--sites 10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup(storage_dir: str):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": storage_dir},
        },
    }


def _snapshot(site, *, completed, shared: bytes, own: bytes, compacted_from=None):
    """A complete snapshot as the engine leaves it: objects stored, manifest written, rows."""
    from backups.models import BackupJob, Snapshot
    from backups.snapshots.manifest import Manifest, ShardEntry, write_manifest
    from backups.snapshots.objects import ObjectStore

    store = ObjectStore(site.cloud_id)
    shards = []
    for name, data in (("statuses/all", shared), ("projects/all", own)):
        ref = store.put_bytes(data)
        shards.append(ShardEntry(name.split("/")[0], name, ref.sha256, ref.size, 1))
    sid = str(uuid.uuid4())
    manifest = Manifest(
        snapshot_id=sid,
        site={"cloud_id": site.cloud_id, "url": site.url, "name": site.name},
        kind="full",
        started_at=completed.isoformat(),
        finished_at=completed.isoformat(),
        shards=shards,
        record_counts={},
        totals={"objects": 2, "bytes": sum(s.size for s in shards)},
    )
    path, sha, _size = write_manifest(store.storage, manifest)
    # A compacted snapshot has no job of its own (backups/compaction.py).
    job = (
        None
        if compacted_from
        else BackupJob(site=site, kind="full", status="succeeded", finished_at=completed)
    )
    snap = Snapshot(
        id=sid,
        site=site,
        kind="full",
        format_version=2,
        manifest_path=path,
        manifest_sha256=sha,
        started_at=completed,
        completed_at=completed,
        objects_count=2,
        bytes_total=manifest.totals["bytes"],
        compacted_from=compacted_from,
    )
    return job, snap


def _build(count: int, now):
    from backups.models import BackupJob, BackupSchedule, Snapshot
    from tenants.models import JiraSite, Tenant

    tenants = Tenant.objects.bulk_create(
        [Tenant(name=f"T{n}", slug=f"t{n}") for n in range(max(1, count // 10))]
    )
    sites = JiraSite.objects.bulk_create(
        [
            JiraSite(
                tenant=tenants[n % len(tenants)],
                cloud_id=f"cloud-{n:06d}",
                url=f"https://s{n}.atlassian.net",
                name=f"s{n}",
            )
            for n in range(count)
        ]
    )
    BackupSchedule.objects.bulk_create(
        [
            BackupSchedule(site=s, keep_last=2, keep_daily=0, keep_weekly=0, keep_monthly=0)
            for s in sites
        ]
    )
    jobs, snaps = [], []
    for site in sites:
        for age in (2, 1):
            job, snap = _snapshot(
                site,
                completed=now - timedelta(days=age),
                shared=f"shared {site.cloud_id}".encode(),
                own=f"own {site.cloud_id} {age}".encode(),
            )
            jobs.append(job)
            snaps.append(snap)
    BackupJob.objects.bulk_create(jobs)
    for job, snap in zip(jobs, snaps, strict=True):
        snap.job = job
    Snapshot.objects.bulk_create(snaps)
    return sites


def _day(sites, *, changed: int, now, day: int, compacted: bool = False) -> dict:
    """``changed`` sites get a new snapshot (``compacted``: a compacted copy of their newest,
    of its moment, which is older than the last prune)."""
    from backups.models import BackupJob, Snapshot
    from backups.retention import prune_all

    jobs, snaps = [], []
    for site in sites[:changed]:
        newest = (
            Snapshot.objects.filter(site=site, status="complete").order_by("-completed_at").first()
            if compacted
            else None
        )
        job, snap = _snapshot(
            site,
            completed=newest.completed_at if compacted else now - timedelta(hours=1),
            shared=f"shared {site.cloud_id}".encode(),
            own=f"own {site.cloud_id} day {day}".encode(),
            compacted_from=newest,
        )
        jobs.append(job)
        snaps.append(snap)
    BackupJob.objects.bulk_create([j for j in jobs if j is not None])
    for job, snap in zip(jobs, snaps, strict=True):
        snap.job = job
    Snapshot.objects.bulk_create(snaps)
    started = time.perf_counter()
    reports = prune_all(now=now, limit=10**7)
    elapsed = time.perf_counter() - started
    return {
        "sites": len(reports),
        "manifests": sum(r.manifests_read for r in reports.values()),
        "listed": sum(1 for r in reports.values() if r.listed_storage),
        "pruned": sum(len(r.pruned_snapshots) for r in reports.values()),
        "deleted": sum(len(r.deleted_objects) for r in reports.values()),
        "seconds": elapsed,
        "complete": Snapshot.objects.filter(status="complete").count(),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=10_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as storage_dir:
        _setup(storage_dir)
        from django.db import connection
        from django.utils import timezone

        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        try:
            started = time.perf_counter()
            sites = _build(args.sites, timezone.now())
            built = time.perf_counter() - started
            # The passes happen after the build (the schedules were written during it).
            now = timezone.now()
            first = _day(sites, changed=0, now=now, day=0)
            one = max(1, args.sites // 100)
            day1 = _day(sites, changed=one, now=now + timedelta(days=1), day=1)
            quiet = _day(sites, changed=0, now=now + timedelta(days=2), day=2)
            ten = max(1, args.sites // 10)
            day3 = _day(sites, changed=ten, now=now + timedelta(days=3), day=3)
            day4 = _day(sites, changed=one, now=now + timedelta(days=4), day=4, compacted=True)
            vendor = connection.vendor
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)

    ok = (
        day1["manifests"] == 2 * one
        and quiet["manifests"] == 0
        and day3["manifests"] == 2 * ten
        and day4["manifests"] == 2 * one
        and day4["deleted"] == one
        and day1["listed"] == quiet["listed"] == day3["listed"] == day4["listed"] == 0
        and day1["deleted"] == one
        and first["manifests"] == 2 * args.sites
    )
    n = args.sites

    def row(label, d, target):
        return (
            f"| {label} | {target} | {d['manifests']:,} manifests read, {d['listed']:,} sites "
            f"listed, {d['pruned']:,} snapshots pruned, {d['deleted']:,} objects deleted | "
            f"{d['seconds']:.1f} s |"
        )

    lines = [
        "## Retention pruning (`bench/prune_bench.py`)",
        "",
        f"{n:,} sites on {vendor}, each with two complete snapshots (real manifests and objects "
        "on filesystem storage; two shards each, one shared) kept by `keep_last=2`; the daily "
        "pass (`backups.retention.prune_all`) over every site. Before reference counting, every "
        f"pass (every five minutes) read all {2 * n:,} manifests and listed every site's objects.",
        "",
        "| day | target | read | time |",
        "|---|---|---|---|",
        row("first pass (builds the counts)", first, f"{2 * n:,} manifests, once"),
        row(f"{one:,} sites (1 %) with a new snapshot", day1, f"{2 * one:,} manifests, no listing"),
        row("no new snapshot", quiet, "0 manifests, no listing"),
        row(
            f"{ten:,} sites (10 %) with a new snapshot", day3, f"{2 * ten:,} manifests, no listing"
        ),
        row(
            f"{one:,} sites (1 %) with their newest snapshot compacted",
            day4,
            f"{2 * one:,} manifests, no listing",
        ),
        "",
        "Each changed site costs two manifest reads (the new snapshot counted up; the one it "
        "pushed out of retention counted down before its manifest is deleted) and one object "
        "deleted (the pruned snapshot's own shard); the shared shard stays, named by the kept "
        "snapshots. What remains per site and day is a few indexed queries (its cursor, its "
        "snapshot rows, its jobs) for a changed site, and for all the unchanged ones together five "
        "queries and one UPDATE (`retention._quiet`), hence the time of the quiet day. A compacted "
        "snapshot (issue 21: a synthetic full of its source's moment, older than the last prune) "
        "is counted all the same, since a prune counts the snapshots not counted yet "
        "(`Snapshot.refs_counted`), not those completed since a time; its source is pruned in its "
        "place (two manifest reads, the source's own shard deleted). Data "
        f"built in {built:.0f} s; the first pass is what the old pass cost every five minutes.",
        "",
        f"Result: {'meets' if ok else 'MISSES'} the targets.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "docs" / "benchmarks_prune.md").write_text(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
