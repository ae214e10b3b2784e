"""`make bench`: run every ``bench/*_bench.py`` and gather their reports into docs/benchmarks.md.

Each benchmark script runs on its own (``python -m bench.NAME``), prints its figures, and writes
its section to ``docs/benchmarks_<name>.md`` with the target, the measured value and the ratio.
This runner only sequences them and concatenates the sections, so one can be re-run alone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

HEADER = """# Benchmarks

Produced by `make bench` on the 2-core development machine; every figure is from one run, with
its target and the ratio measured/target (≤ 1.00 meets the target). Each section is written by
one script in `bench/` and can be refreshed alone with `python -m bench.<name>`.
"""


def main(argv: list[str]) -> int:
    """``python -m bench [NAME …]`` runs all (or the named) benchmarks, then gathers the report;
    ``python -m bench --collect`` only gathers the sections already written."""
    collect_only = "--collect" in argv
    only = {name for name in argv if not name.startswith("--")}
    scripts = [] if collect_only else sorted(p.stem for p in (ROOT / "bench").glob("*_bench.py"))
    failed = []
    for name in scripts:
        if only and name not in only:
            continue
        print(f"== bench.{name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT).returncode != 0:
            failed.append(name)
    sections = [p.read_text().strip() for p in sorted(DOCS.glob("benchmarks_*.md"))]
    (DOCS / "benchmarks.md").write_text(HEADER + "\n" + "\n\n".join(sections) + "\n")
    if failed:
        print(f"benchmarks that failed or missed a target: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
