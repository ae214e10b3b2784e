"""A full backup with snapshot encryption on vs off (issue 22).

    python -m bench.encryption_bench [--issues 5000] [--projects 5] [--rounds 2]
                                     [--database-url URL] [--no-docs]

Target: wall time and the worker's peak RSS of a full backup with ``SNAPSHOT_ENCRYPTION`` on
are at most 1.1 x those with it off.

Each run is the worker of ``bench.backup_memory_bench`` (its own process, a sandbox process of
its own, the real 3LO flow over HTTP, the engine run synchronously, filesystem storage); only
``SNAPSHOT_ENCRYPTION`` differs. Runs alternate off/on ``--rounds`` times and each mode's best
wall time and best peak count (the machine is shared: the best run is the least disturbed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "benchmarks_encryption.md"
TARGET = 1.1


def run(mode: str, args) -> dict:
    from bench.backup_memory_bench import measure

    os.environ["SNAPSHOT_ENCRYPTION"] = "true" if mode == "on" else "false"
    result = measure(args.issues, args)
    assert result["status"] == "succeeded", result
    print(f"  encryption {mode}: {result['seconds']} s, peak {result['peak_mb']} MB", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issues", type=int, default=5000)
    parser.add_argument("--projects", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int, default=8793)
    parser.add_argument("--database-url", default="", help="flushed! default: scratch SQLite")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    args.slice_seconds, args.max_seconds = 60, 0
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    for _ in range(args.rounds):
        for mode in ("off", "on"):
            runs[mode].append(run(mode, args))
    best = {
        mode: {
            "seconds": min(r["seconds"] for r in results),
            "peak_mb": min(r["peak_mb"] for r in results),
        }
        for mode, results in runs.items()
    }
    time_ratio = best["on"]["seconds"] / best["off"]["seconds"]
    mem_ratio = best["on"]["peak_mb"] / best["off"]["peak_mb"]
    ok = time_ratio <= TARGET and mem_ratio <= TARGET

    def verdict(ratio: float) -> str:
        return f"{ratio:.3f} ({'meets' if ratio <= TARGET else 'misses'})"

    def each(mode: str) -> str:
        return ", ".join(f"{r['seconds']:.0f} s / {r['peak_mb']:.1f} MB" for r in runs[mode])

    lines = [
        "<!-- encryption:start -->",
        "## Snapshot encryption",
        "",
        f"`python -m bench.encryption_bench --issues {args.issues} --projects {args.projects} "
        f"--rounds {args.rounds}` on {platform.machine()} / Python "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. A full backup of "
        f"a {args.issues}-issue sandbox site (attachments included) by the worker of "
        "`bench.backup_memory_bench` (its own process, the sandbox in another, the real 3LO "
        f"flow, {'PostgreSQL' if args.database_url else 'SQLite'} and filesystem storage), "
        "with `SNAPSHOT_ENCRYPTION` off and on, alternating; each mode's best run counts.",
        "",
        "| measure | target | off | on | ratio |",
        "|---|---|---|---|---|",
        f"| wall time | ≤ {TARGET} x | {best['off']['seconds']:.1f} s | "
        f"{best['on']['seconds']:.1f} s | {verdict(time_ratio)} |",
        f"| worker peak RSS | ≤ {TARGET} x | {best['off']['peak_mb']:.1f} MB | "
        f"{best['on']['peak_mb']:.1f} MB | {verdict(mem_ratio)} |",
        "",
        f"* off: {each('off')}",
        f"* on: {each('on')}",
        "<!-- encryption:end -->",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_docs:
        DOC.write_text(text + "\n")
        print(json.dumps(best))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
