"""What the outbound call ledger costs a full backup.

    python -m bench.ledger_bench [--issues 1000] [--projects 4] [--rounds 3] [--no-docs]

The same full backup of one sandbox site runs ``--rounds`` times with the ledger recording
(``ATLASSIAN_LEDGER_ENABLED`` on: in-memory counts, batched upserts into ``CallStat``, spent
points fed to the budget) and as many times with it off, interleaved (off, on, off, on, ...) so
drift of the machine hits both alike; each run writes to a fresh storage folder, so every run
fetches and stores exactly the same. The figure is the ratio of the best wall times (medians are shown too).
Target: the ledger adds under 5 % (ratio < 1.05).

Also measured: the cost of one ``record()`` call and of one flush of a 200-request batch, and
the number of requests and ledger rows per backup (one row per hour x site x pool x kind x
endpoint family x status class, not one per request).

The sandbox runs in this process on a thread (rate limits off); SQLite database.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "benchmarks_ledger.md"
TARGET = 1.05

from bench.backup_bench import connect, run_backup, setup_django  # noqa: E402


def use_fresh_storage(tmp: Path, n: int) -> None:
    from django.conf import settings
    from django.core.files.storage import storages

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp / f"storage-{n}")},
        },
    }
    storages._storages.pop("default", None)


def full_backup(site, tmp: Path, n: int, *, ledger_on: bool) -> tuple[float, int]:
    from django.test import override_settings

    from atlassian.ledger import flush, ledger

    use_fresh_storage(tmp, n)
    ledger.discard()
    with override_settings(ATLASSIAN_LEDGER_ENABLED=ledger_on):
        job, seconds = run_backup(site, "full")
        started = time.perf_counter()
        flush()  # what the end of the task does
        seconds += time.perf_counter() - started
    return seconds, job.points_spent


def micro() -> tuple[float, float]:
    """Microseconds per record() (no flush), and milliseconds per flush of 200 requests."""
    from atlassian.ledger import CallLedger
    from atlassian.models import CallStat

    ledger = CallLedger(batch_size=10**9, interval_seconds=10**9, budget=lambda: None)
    n = 200_000
    started = time.perf_counter()
    for i in range(n):
        ledger.record(
            site_cloud_id="cloud-bench",
            pool="global",
            credential_kind="vendor_grant",
            endpoint_family=("search/jql", "issue/{key}/remotelink", "attachment/content/{id}")[
                i % 3
            ],
            status_class="2xx",
            points=2,
        )
    per_record_us = (time.perf_counter() - started) / n * 1e6
    ledger.discard()
    flushes = []
    for _ in range(20):
        for i in range(200):
            ledger.record(
                site_cloud_id=f"cloud-{i % 10}",
                pool="global",
                credential_kind="vendor_grant",
                endpoint_family=("search/jql", "issue/{key}/remotelink")[i % 2],
                status_class="2xx",
                points=2,
            )
        started = time.perf_counter()
        ledger.flush()
        flushes.append(time.perf_counter() - started)
    CallStat.objects.filter(site_cloud_id__startswith="cloud-").delete()
    return per_record_us, statistics.median(flushes) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issues", type=int, default=1000)
    parser.add_argument("--projects", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    setup_django(tmp)
    from sandbox.pytest_plugin import Sandbox
    from sandbox.server import start
    from sandbox.state import SandboxState

    state = SandboxState(seed="bench", projects=args.projects, issues=args.issues, sites=("bench",))
    state.rate_limits_enabled = False
    running = start(state)
    sandbox = Sandbox(running.url, state)
    from django.conf import settings

    from atlassian.models import CallStat

    for name, value in sandbox.settings().items():
        setattr(settings, name, value)
    site = connect(sandbox, "bench")

    print(f"warm-up full backup of {args.issues} issues ...", flush=True)
    full_backup(site, tmp, 0, ledger_on=False)
    times: dict[bool, list[float]] = {False: [], True: []}
    requests_per_backup = rows_per_backup = 0
    n = 1
    for round_ in range(args.rounds):
        for ledger_on in (False, True):
            state.request_log.clear()
            before = CallStat.objects.count()
            seconds, points = full_backup(site, tmp, n, ledger_on=ledger_on)
            n += 1
            times[ledger_on].append(seconds)
            if ledger_on:
                requests_per_backup = len(state.request_log)
                rows_per_backup = CallStat.objects.count() - before or rows_per_backup
            print(
                f"  round {round_ + 1} ledger {'on ' if ledger_on else 'off'}: {seconds:.2f} s, "
                f"{points} points, {len(state.request_log)} requests",
                flush=True,
            )
    running.stop()
    per_record_us, flush_ms = micro()

    # Best of N: on a shared machine the fastest run of each is the least disturbed one.
    off, on = min(times[False]), min(times[True])
    ratio = on / off
    median_ratio = statistics.median(times[True]) / statistics.median(times[False])
    # The same cost computed from its parts (free of the machine's noise): every request
    # recorded once, a flush per 200 requests plus the one at the end.
    direct = requests_per_backup * per_record_us / 1e6 + (requests_per_backup // 200 + 1) * (
        flush_ms / 1000
    )
    ok = ratio < TARGET
    lines = [
        "## Call ledger overhead (`bench/ledger_bench.py`)",
        "",
        f"`python -m bench.ledger_bench --issues {args.issues} --projects {args.projects} "
        f"--rounds {args.rounds}` on {platform.machine()} / Python "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. The same full "
        "backup against the in-process sandbox (rate limits off), SQLite database, a fresh "
        "storage folder per run; ledger off and on interleaved, the best run of each compared "
        "(the least disturbed by other load on the machine).",
        "",
        "| measure | target | measured | ratio |",
        "|---|---|---|---|",
        f"| Full backup wall time, ledger on vs off (best of {args.rounds}) | < {TARGET:.2f} "
        f"| {on:.2f} s / {off:.2f} s | {ratio:.3f} ({'meets' if ok else 'misses'}) |",
        "",
        "Runs (s), off: "
        + ", ".join(f"{t:.2f}" for t in times[False])
        + "; on: "
        + ", ".join(f"{t:.2f}" for t in times[True])
        + f". Ratio of the medians: {median_ratio:.3f}.",
        f"One full backup sends {requests_per_backup} requests and leaves {rows_per_backup} "
        "ledger rows (aggregated per hour x site x pool x kind x endpoint family x status "
        "class).",
        f"`record()`: {per_record_us:.2f} µs per request (in memory, under a lock); a flush of "
        f"a 200-request batch (one upsert statement): {flush_ms:.2f} ms. Computed from these "
        f"parts the ledger costs a full backup {direct:.3f} s, {100 * direct / off:.2f} % of its "
        "wall time (the measured ratio also carries the machine's run-to-run noise).",
        "",
        f"Result: {'meets' if ok else 'misses'} the target.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_docs:
        DOC.write_text(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
