"""Capacity: a thousand tenants inside Atlassian's quotas, on an accelerated clock.

    python -m bench.capacity_bench [--tenants 1000] [--tier2 50] [--days 2] [--runs ...] [--no-docs]

A simulation of Atlassian's points and the engine's costs, driven by the product's own code:
beat's scheduler (``backups.services.schedules_enqueue_due``: most overdue first, to each
pool's room), the job driver (``backups.jobs.driver.run_slice``: admission against the tenant's
fair share and the pool, settlement), fairness (``backups.engine.fairness``), the points budget
and the per-request admission (``atlassian.ratelimit.PointsBudget``, ``atlassian.admission``),
Tier 2 pools (``atlassian.pools``, set with ``tenants.services.site_set_pool``), the schedule
estimates (``backups.services.schedule_estimates_refresh``) and the planner
(``ops.quota.forecast``). What is simulated is only what would not fit the machine: the engine's
requests (one per unit of 100 issues, costed with the figures ``bench/backup_bench.py``
measured against the sandbox: a full backup 18.5 points an issue, an incremental 60 points plus
21.6 an issue changed) and Atlassian's side, which is the sandbox's own quota
(``sandbox.ratelimit.RateLimiter``: Tier 1 and Tier 2 pools, 429 when exhausted) on the
simulation's clock.

World: --tenants tenants of one site each, sizes long-tailed (log-normal, median 1,500 issues,
clipped to 100..50,000), 1 % of issues changed a day, one Tier 1 pool (65,000 points/hour) and
--tier2 sites on Tier 2 (the biggest sites' plans: Premium or Enterprise, users from the size).
Schedules run every 23 hours, so that a site on time has a backup less than 24 hours old;
periodic fulls are off (incrementals are compacted into a synthetic full without Atlassian).

Measured, against the limit (the sum of the incremental floors of the global pool's sites, as
a share of the scheduled capacity):

1. Steady state: the share of sites backed up within 24 h (no gap over 24 h between two
   successful backups, nor from the last one to the end) on the measured days. Target >= 99 %
   whenever the floors are <= 90 % of the pool; the run is repeated with the change rate
   scaled so that the floors are about 50 %, 90 % and 110 % of it.
2. Onboarding a new 50,000-issue site on the global pool: hours until its first full backup
   completes, and the sites pushed past their window meanwhile (target 0).
3. Pool use while backlogged (the onboarding's full hours): points Atlassian charged in the
   hour / the pool. Target >= 90 %.
4. Quota 429s from the simulated Atlassian: target 0.

It runs on ``DATABASE_URL`` (flushed first) and, when ``REDIS_URL`` is set, keeps the points
budget there: give it a Redis database of its own (a test suite flushing that database under it
makes the budget forget its reservations, and the simulated Atlassian then answers 429).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import random
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "benchmarks_capacity.md"

TIER1 = 65_000
FULL_POINTS_PER_ISSUE = 18.5
FULL_OVERHEAD = 200
INCREMENTAL_OVERHEAD = 60
INCREMENTAL_POINTS_PER_CHANGED = 21.6
PAGE = 100
INTERVAL_HOURS = 23
TICK = 60.0  # simulated seconds between two passes over the queue
BEAT = 300.0  # beat's enqueue_due_backups every 5 minutes

NOW = [0.0]  # the simulation's clock (epoch seconds)


def sim_now() -> float:
    """BACKUPS_CLOCK: the simulation's clock."""
    return NOW[0]


def sim_dt() -> datetime:
    return datetime.fromtimestamp(NOW[0], UTC)


def setup_django(tmp: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp / 'bench.sqlite3'}")
    os.environ["STORAGE_ROOT"] = str(tmp / "storage")
    os.environ["VAR_DIR"] = str(tmp / "var")
    os.environ["CELERY_BROKER_URL"] = "filesystem://"
    os.environ["LOG_LEVEL"] = "ERROR"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    settings.BACKUPS_CLOCK = "bench.capacity_bench.sim_now"
    settings.ATLASSIAN_TIER1_POINTS_PER_HOUR = TIER1
    settings.ATLASSIAN_LEDGER_ENABLED = False
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter("atl:*"):
            client.delete(key)


# --------------------------------------------------------------------------- the world


class World:
    """Site sizes, change rate, the simulated Atlassian, and what happened."""

    def __init__(self, tenants: int, tier2: int, seed: int) -> None:
        from sandbox.ratelimit import RateLimiter

        self.rng = random.Random(seed)
        self.sizes: dict[int, int] = {}  # site id -> issues
        self.cloud: dict[int, str] = {}
        self.change_rate = 0.01
        self.atlassian = RateLimiter(tier1_quota=TIER1, burst_enabled=False)
        self.charged: dict[tuple[str, float], int] = defaultdict(int)  # (pool kind:key, hour)
        self.quota_429 = 0
        self.successes: dict[int, list[float]] = defaultdict(list)
        self.units: dict[int, list[int]] = {}  # job id -> unit costs left
        self.spent: dict[int, int] = defaultdict(int)  # job id -> points
        self.tenants, self.tier2 = tenants, tier2

    def size(self) -> int:
        return max(100, min(50_000, int(self.rng.lognormvariate(math.log(1500), 1.3))))

    def incremental_cost(self, site_id: int, hours: float) -> list[int]:
        changed = self.sizes[site_id] * self.change_rate * hours / 24
        units = [INCREMENTAL_OVERHEAD]
        while changed > 0:
            n = min(PAGE, changed)
            units.append(max(1, round(n * INCREMENTAL_POINTS_PER_CHANGED)))
            changed -= n
        return units

    def full_cost(self, site_id: int) -> list[int]:
        issues = self.sizes[site_id]
        pages = math.ceil(issues / PAGE)
        per_page = [min(PAGE, issues - i * PAGE) for i in range(pages)]
        return [FULL_OVERHEAD] + [round(n * FULL_POINTS_PER_ISSUE) for n in per_page]

    def floor_per_hour(self, site_id: int) -> float:
        return sum(self.incremental_cost(site_id, INTERVAL_HOURS)) / INTERVAL_HOURS


WORLD: World | None = None


class SimLedger:
    def __init__(self) -> None:
        self.points = 0

    def take(self) -> int:
        points, self.points = self.points, 0
        return points

    def flush(self, quiet: bool = True) -> None:
        return None


class SimClient:
    """What the driver needs of a client: its pool, its admission, its ledger. Its one kind of
    request goes through the real admission and the simulated Atlassian quota."""

    def __init__(self, site, priority: str) -> None:
        from atlassian.admission import Admission
        from atlassian.pools import grant_pool
        from atlassian.ratelimit import default_budget

        self.site = site
        self.pool = grant_pool(site.cloud_id)
        self.admission = Admission(priority=priority, clock=sim_now)
        self.ledger = SimLedger()
        self.budget = default_budget()

    def request(self, points: int) -> None:
        from atlassian.exceptions import ApiRateLimited

        world = WORLD
        self.admission.before(
            pool=self.pool, site=self.site.cloud_id, estimate=points, family="sim", method="GET"
        )
        now = sim_now()
        limited = world.atlassian.check_quota("app", self.site.cloud_id, now)
        if limited is not None:
            world.quota_429 += 1
            self.admission.after(pool=self.pool, estimate=points, points=0)
            raise ApiRateLimited(
                "quota", retry_after=limited.retry_after, reason=limited.reason, pool=self.pool
            )
        kind = world.atlassian.charge("app", self.site.cloud_id, points, now)
        hour = now - now % 3600
        world.charged[(kind if kind == "global" else self.site.cloud_id, hour)] += points
        self.admission.after(pool=self.pool, estimate=points, points=points)
        self.ledger.points += points
        self.budget.record_spent(self.pool, points, hour=datetime.fromtimestamp(now, UTC))

    def close(self) -> None:
        self.admission.settle()


class SimEngine:
    """A backup engine whose units are simulated requests (see the module docstring)."""

    def __init__(self, job_id: int, lease) -> None:
        from backups.models import BackupJob

        self.job = BackupJob.objects.select_related("site").get(pk=job_id)
        self.lease = lease
        self.site = self.job.site
        self.client = None

    def open(self) -> None:
        from atlassian.ratelimit import SCHEDULED
        from backups.models import BackupSchedule

        self.client = SimClient(self.site, SCHEDULED)
        if self.job.pk not in WORLD.units:
            if self.job.kind == "full":
                WORLD.units[self.job.pk] = WORLD.full_cost(self.site.pk)
                # As the engine's first step does (search/approximate-count): the planner's
                # forecast of the job's cost reads it.
                self.lease.heartbeat(objects_total=WORLD.sizes[self.site.pk])
            else:
                last = BackupSchedule.objects.values_list("last_success_at", flat=True).get(
                    site=self.site
                )
                hours = (sim_dt() - last).total_seconds() / 3600 if last else INTERVAL_HOURS
                WORLD.units[self.job.pk] = WORLD.incremental_cost(self.site.pk, hours)

    def next_unit(self):
        from backups.jobs.driver import Unit

        left = WORLD.units[self.job.pk]
        if not left:
            return None
        return Unit(key=f"unit {len(left)}", estimate=left[0])

    def run(self, unit) -> int:
        self.client.request(unit.estimate)
        return unit.estimate

    def commit(self, unit, result, points: int) -> None:
        WORLD.units[self.job.pk].pop(0)
        WORLD.spent[self.job.pk] += points

    def finalize(self) -> None:
        from backups.jobs import leases
        from backups.models import BackupJob, Snapshot
        from backups.services import schedule_estimates_refresh

        now = sim_dt()
        spent = WORLD.spent.pop(self.job.pk, 0)
        leases.finish(self.lease, status=BackupJob.Status.SUCCEEDED)
        Snapshot.objects.create(
            site=self.site,
            job=self.job,
            kind=self.job.kind,
            format_version=1,
            manifest_path="sim",
            manifest_sha256="0" * 64,
            started_at=now,
            completed_at=now,
            points_spent=max(spent, 1),
        )
        schedule_estimates_refresh(site_ids=[self.site.pk], now=now)
        WORLD.successes[self.site.pk].append(NOW[0])
        WORLD.units.pop(self.job.pk, None)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


# --------------------------------------------------------------------------- set-up


def build(world: World, start: float) -> None:
    """Tenants, sites on one vendor grant, schedules, and a steady state: every site has a
    full snapshot and a recent incremental one, staggered over the day."""
    from atlassian.models import PoolQuota
    from atlassian.pools import tier2_quota
    from atlassian.ratelimit import GLOBAL_POOL
    from backups.models import BackupJob, BackupSchedule, Snapshot
    from backups.services import schedule_estimates_refresh, schedules_follow_sites
    from tenants.models import JiraSite, Tenant
    from tests.factories import OAuthGrantFactory

    grant = OAuthGrantFactory()
    tenants = Tenant.objects.bulk_create(
        [Tenant(name=f"Tenant {i}", slug=f"t{i}") for i in range(world.tenants)]
    )
    sites = JiraSite.objects.bulk_create(
        [
            JiraSite(
                tenant=t,
                cloud_id=f"cloud-{i:05d}",
                name=f"s{i}",
                url=f"https://s{i}.atlassian.net",
                grant=grant,
            )
            for i, t in enumerate(tenants)
        ]
    )
    sizes = sorted((world.size() for _ in sites), reverse=True)
    sizes[0] = 50_000
    world.rng.shuffle(sizes)
    for site, size in zip(sites, sizes, strict=True):
        world.sizes[site.pk] = size
        world.cloud[site.pk] = site.cloud_id
    # Tier 2: the biggest sites (their owners asked Atlassian); Premium or Enterprise.
    biggest = sorted(sites, key=lambda s: -world.sizes[s.pk])[: world.tier2]
    for site in biggest:
        plan = world.rng.choice(["premium", "enterprise"])
        users = max(50, world.sizes[site.pk] // 20)
        quota = tier2_quota(plan, users)
        PoolQuota.objects.create(
            cloud_id=site.cloud_id, plan=plan, users=users, points_per_hour=quota, source="admin"
        )
        world.atlassian.tier2_quotas[site.cloud_id] = quota
    schedules = []
    snapshots = []
    for site in sites:
        last = start - world.rng.uniform(0, INTERVAL_HOURS * 3600)
        last_dt = datetime.fromtimestamp(last, UTC)
        schedules.append(
            BackupSchedule(
                site=site,
                interval_hours=INTERVAL_HOURS,
                full_every_days=3650,
                next_run_at=last_dt + timedelta(hours=INTERVAL_HOURS),
                pool=GLOBAL_POOL,
                site_status="active",
            )
        )
        full = sum(world.full_cost(site.pk))
        incr = sum(world.incremental_cost(site.pk, INTERVAL_HOURS))
        for kind, when, points in (("full", last - 10 * 86400, full), ("incremental", last, incr)):
            job = BackupJob(site=site, kind=kind, requested_kind=kind, status="succeeded")
            snapshots.append((job, kind, when, points))
        world.successes[site.pk].append(last)
    BackupSchedule.objects.bulk_create(schedules)
    BackupJob.objects.bulk_create([s[0] for s in snapshots])
    Snapshot.objects.bulk_create(
        [
            Snapshot(
                site_id=job.site_id,
                job=job,
                kind=kind,
                format_version=1,
                manifest_path="sim",
                manifest_sha256="0" * 64,
                started_at=datetime.fromtimestamp(when, UTC),
                completed_at=datetime.fromtimestamp(when, UTC),
                points_spent=points,
            )
            for job, kind, when, points in snapshots
        ]
    )
    schedules_follow_sites()  # the Tier 2 sites' schedules move to their own pools
    schedule_estimates_refresh(now=datetime.fromtimestamp(start, UTC))


def onboard(world: World) -> int:
    """A new customer: a 50,000-issue site on the global pool, its schedule due now."""
    from backups.services import schedule_create
    from tenants.models import JiraSite, OAuthGrant, Tenant

    tenant = Tenant.objects.create(name="New customer", slug="new-customer")
    site = JiraSite.objects.create(
        tenant=tenant,
        cloud_id="cloud-new",
        name="new",
        url="https://new.atlassian.net",
        grant=OAuthGrant.objects.first(),
    )
    world.sizes[site.pk] = 50_000
    schedule_create(
        site=site,
        acting_user=None,
        interval_hours=INTERVAL_HOURS,
        full_every_days=3650,
        next_run_at=sim_dt(),
    )
    return site.pk


# --------------------------------------------------------------------------- the clock


def simulate(world: World, until: float, ready: dict[int, float]) -> None:
    """Beat every 5 minutes, each ready job one slice per minute (as re-queued tasks would),
    until ``until`` on the simulation's clock."""
    from backups.jobs.driver import run_slice
    from backups.models import BackupJob
    from backups.services import schedules_enqueue_due

    next_beat = NOW[0]
    while NOW[0] < until:
        if NOW[0] >= next_beat:
            for job_id in schedules_enqueue_due(now=sim_dt()):
                ready[job_id] = NOW[0]
            next_beat += BEAT
        for job_id in sorted((j for j, t in ready.items() if t <= NOW[0]), key=ready.get):
            outcome = run_slice(BackupJob, job_id, SimEngine, slice_seconds=3600)
            if outcome.state in ("requeue", "not_ready"):
                ready[job_id] = NOW[0] + max(outcome.countdown, 1.0)
            else:
                ready.pop(job_id, None)
        NOW[0] += TICK


def on_time_share(world: World, since: float, until: float, sites=None) -> tuple[float, int]:
    """Share of sites with no gap over 24 h between successes in [since, until] (and from
    the last one to ``until``); and the number of sites late."""
    late = 0
    ids = list(sites if sites is not None else world.successes)
    for site_id in ids:
        stamps = sorted(world.successes[site_id])
        before = [t for t in stamps if t <= since]
        inside = [t for t in stamps if since < t <= until]
        points = ([before[-1]] if before else []) + inside + [until]
        gaps = [b - a for a, b in itertools.pairwise(points)]
        if not before or any(g > 24 * 3600 for g in gaps):
            late += 1
    return (1 - late / len(ids)) if ids else 1.0, late


def global_floor(world: World) -> float:
    from atlassian.models import PoolQuota

    tier2 = set(PoolQuota.objects.values_list("cloud_id", flat=True))
    return sum(world.floor_per_hour(s) for s, c in world.cloud.items() if c not in tier2)


# --------------------------------------------------------------------------- the runs


def steady(args, load: float | None) -> dict:
    """One world in steady state for --days days (the first is warm-up); ``load`` scales the
    change rate so that the global floors are that share of the scheduled capacity."""
    from atlassian.ratelimit import interactive_reserve

    setup_world = World(args.tenants, args.tier2, args.seed)
    global WORLD
    WORLD = setup_world
    start = datetime(2027, 1, 4, tzinfo=UTC).timestamp()
    NOW[0] = start
    build(setup_world, start)
    capacity = TIER1 - interactive_reserve(TIER1)
    if load is not None:
        # The floors are affine in the change rate (a fixed part per run): solve for it.
        base = global_floor(setup_world)
        setup_world.change_rate *= 2
        slope = (global_floor(setup_world) - base) / (setup_world.change_rate / 2)
        setup_world.change_rate = max(0.0, (load * capacity - (base - slope * 0.01)) / slope)
    floor = global_floor(setup_world)
    ready: dict[int, float] = {}
    warm = start + 86400
    end = start + args.days * 86400
    began = time.perf_counter()
    simulate(setup_world, end, ready)
    share, late = on_time_share(setup_world, warm, end)
    hours = [
        points / TIER1
        for (pool, hour), points in setup_world.charged.items()
        if pool == "global" and warm <= hour < end
    ]
    return {
        "load": floor / capacity,
        "floor": floor,
        "change": setup_world.change_rate,
        "share": share,
        "late": late,
        "sites": len(setup_world.successes),
        "mean_use": sum(hours) / max(1, len(hours)),
        "quota_429": setup_world.quota_429,
        "seconds": time.perf_counter() - began,
    }


def onboarding(args) -> dict:
    """The steady world, then a new 50,000-issue site on the global pool."""
    from ops.quota import forecast

    global WORLD
    world = World(args.tenants, args.tier2, args.seed)
    WORLD = world
    start = datetime(2027, 2, 1, tzinfo=UTC).timestamp()
    NOW[0] = start
    build(world, start)
    ready: dict[int, float] = {}
    began = time.perf_counter()
    simulate(world, start + 6 * 3600, ready)  # settle into the steady state
    t0 = NOW[0]
    site_id = onboard(world)
    simulate(world, t0 + 300, ready)
    plan = {f.pool: f for f in forecast(now=sim_dt())}["global"]
    predicted = plan.hours_to_clear
    done = None
    limit = t0 + 72 * 3600
    while NOW[0] < limit and done is None:
        simulate(world, NOW[0] + 3600, ready)
        if world.successes.get(site_id):
            done = world.successes[site_id][0]
    end = done or NOW[0]
    others = [s for s in world.successes if s != site_id]
    # Sites pushed past their window while the new site was onboarded (and a day after).
    simulate(world, end + 3600, ready)
    share, late = on_time_share(world, t0, NOW[0], sites=others)
    full_hours = [
        (hour, points / TIER1)
        for (pool, hour), points in sorted(world.charged.items())
        if pool == "global" and t0 - t0 % 3600 + 3600 <= hour and hour + 3600 <= end
    ]
    return {
        "hours": (end - t0) / 3600 if done else None,
        "predicted": predicted,
        "late": late,
        "share": share,
        "use": [u for _h, u in full_hours],
        "quota_429": world.quota_429,
        "floor": global_floor(world),
        "seconds": time.perf_counter() - began,
    }


RESULTS = ROOT / "var" / "capacity_results.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--tier2", type=int, default=50)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument(
        "--runs",
        default="base,onboard,load:0.5,load:0.9,load:1.1",
        help="which runs: base (1 %% a day), onboard, load:X (floors = X of the capacity); "
        "each run's figures are kept in var/capacity_results.json and the report is written "
        "from every run kept there (so runs can be made apart, or side by side)",
    )
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    # Run as __main__, BACKUPS_CLOCK's dotted path imports this file a second time: one clock.
    import bench.capacity_bench as imported

    imported.NOW = NOW
    import json

    with tempfile.TemporaryDirectory() as tmp:
        setup_django(Path(tmp))
        from django.core.management import call_command

        from atlassian.ratelimit import interactive_reserve

        capacity = TIER1 - interactive_reserve(TIER1)
        for run in [r.strip() for r in args.runs.split(",") if r.strip()]:
            call_command("flush", interactive=False, verbosity=0)
            if run == "base":
                result = steady(args, None)
            elif run == "onboard":
                result = onboarding(args)
            else:
                result = steady(args, float(run.split(":", 1)[1]))
            result["args"] = f"--tenants {args.tenants} --tier2 {args.tier2} --days {args.days}"
            print(f"{run}: {result}", flush=True)
            kept = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
            kept[run] = result
            RESULTS.parent.mkdir(exist_ok=True)
            RESULTS.write_text(json.dumps(kept, indent=1))
    kept = json.loads(RESULTS.read_text())
    loads = sorted((k for k in kept if k.startswith("load:")), key=lambda k: float(k[5:]))
    runs = [kept[k] for k in (["base"] if "base" in kept else []) + loads]
    lines, ok = report(args, runs, kept.get("onboard"), capacity)
    print("\n".join(lines))
    if not args.no_docs:
        DOC.write_text("\n".join(lines) + "\n")
        from bench.__main__ import main as collect

        collect(["--collect"])
    return 0 if ok else 1


def report(args, runs: list[dict], onboard_run: dict, capacity: int) -> tuple[list[str], bool]:
    def ratio(measured: float, target: float, higher_is_better: bool) -> str:
        if higher_is_better:
            value = target / measured if measured else float("inf")
        else:
            value = measured / target if target else float("inf")
        return f"{value:.2f} ({'meets' if value <= 1 else 'misses'})"

    ok = True
    onboard_run = onboard_run or {
        "use": [],
        "hours": None,
        "late": 0,
        "quota_429": 0,
        "predicted": None,
        "floor": 0.0,
        "seconds": 0.0,
    }
    quota_429 = sum(r["quota_429"] for r in runs) + onboard_run["quota_429"]
    lines = [
        "## Capacity: a thousand tenants inside Atlassian's quotas (`bench/capacity_bench.py`)",
        "",
        f"`python -m bench.capacity_bench {runs[0]['args'] if runs else ''}` (runs made apart "
        f"with `--runs`) on {platform.machine()} / Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC. An accelerated-clock simulation driven by the "
        "product's scheduler, job driver, fairness, points budget, per-request admission, "
        "Tier 2 pools and planner; the engine's requests and Atlassian's quota are simulated "
        "(costs measured by `bench/backup_bench.py`; the quota is the sandbox's own "
        "`RateLimiter`). One Tier 1 pool of 65,000 points/hour (61,750 for scheduled work: "
        "5 % is the interactive reserve) and "
        f"{args.tier2} sites on Tier 2; sizes log-normal (median 1,500, 100..50,000 issues); "
        "schedules every 23 h; the first simulated day is warm-up.",
        "",
        "The limit: the sum of the incremental floors of the global pool's sites (points/hour "
        "at their change rate) as a share of the scheduled capacity. A site counts as backed up "
        "within 24 h when, over the measured day, no two successive successful backups (nor "
        "the last one and the end of the run) are more than 24 h apart.",
        "",
        "| run | floors / capacity | sites backed up within 24 h | target | ratio | mean pool use |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        base = abs(r["change"] - 0.01) < 1e-12
        name = "1 % changed a day" if base else f"{r['change']:.1%} changed a day"
        applies = round(r["load"], 3) <= 0.9  # the solver hits 90 % to within 0.01 %
        target = "≥ 99 %" if applies else "— (over 90 %)"
        verdict = ratio(r["share"], 0.99, True) if applies else "—"
        if applies:
            ok = ok and r["share"] >= 0.99
        lines.append(
            f"| {name} | {r['load']:.0%} ({r['floor']:,.0f} of {capacity:,}) | "
            f"{r['share']:.2%} ({r['late']} of {r['sites']} late) | {target} | {verdict} | "
            f"{r['mean_use']:.0%} |"
        )
    use = onboard_run["use"]
    min_use = min(use) if use else 0.0
    hours = onboard_run["hours"]
    ok = ok and bool(use) and min_use >= 0.9 and onboard_run["late"] == 0 and hours is not None
    ok = ok and quota_429 == 0
    predicted = onboard_run["predicted"]
    lines += [
        "",
        "| measure | target | measured | ratio |",
        "|---|---|---|---|",
        f"| pool use while backlogged (each full hour of the onboarding) | ≥ 90 % | "
        f"min {min_use:.1%} over {len(use)} h (mean {sum(use) / max(1, len(use)):.1%}) | "
        f"{ratio(min_use, 0.9, True)} |",
        f"| onboard a 50,000-issue site on the global pool | others stay in their window | "
        f"{hours:.1f} h, {onboard_run['late']} other sites late | "
        f"{'meets' if onboard_run['late'] == 0 else 'misses'} |"
        if hours is not None
        else "| onboard a 50,000-issue site | done | not done in 72 h | misses |",
        f"| quota 429s from Atlassian | 0 | {quota_429} | {'meets' if not quota_429 else 'misses'} |",
        "",
        "The planner (`ops.quota.forecast`, the dashboard's Backlog and `quota_plan`) predicted "
        + (
            f"{predicted:.1f} h to clear the global pool's backlog five minutes after the new "
            "site was added"
            if predicted is not None
            else "no end to the global pool's backlog at that rate"
        )
        + f" (its first-backup guess is {20_000:,} points until the job counts the issues).",
        "",
        f"Global pool floor during onboarding: {onboard_run['floor']:,.0f} points/hour. "
        f"Wall time: {sum(r['seconds'] for r in runs) + onboard_run['seconds']:.0f} s.",
        "",
        f"Result: {'meets the targets' if ok else 'misses a target (see the rows)'}.",
    ]
    return lines, ok


if __name__ == "__main__":
    raise SystemExit(main())
