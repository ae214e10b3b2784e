"""Peak RSS of a backup worker at 10,000 vs 100,000 issues (issue 6, memory).

    python -m bench.backup_memory_bench [--small 10000] [--large 100000] [--projects 10]
                                        [--max-seconds 0] [--database-url URL] [--no-docs]

Target: the worker's peak RSS for a 100,000-issue site is at most 1.2 x that for a
10,000-issue site, and under 300 MB.

Each size runs in two processes of its own, so nothing but the worker is measured:

* the sandbox: ``python -m sandbox --seed memory --projects K --issues N --no-rate-limits
  --auto-consent`` (its memory never counts);
* the worker: ``python -m bench.backup_memory_bench --child ...`` sets Django up on a scratch
  database (SQLite file, or ``--database-url`` such as ``postgres://…/bench_memory``, flushed),
  connects the site through the real 3LO flow over HTTP (authorize with scripted consent, token
  exchange, accessible-resources), runs the full backup synchronously with the engine
  (``backup_job_enqueue`` then ``run_job`` slices) and reports
  ``getrusage(RUSAGE_SELF).ru_maxrss`` before the backup and after every slice.

``--max-seconds`` stops a worker early (its figures are then marked partial, with the issues it
had done), for a machine where a 100,000-issue backup does not fit the time available.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "benchmarks_backup_memory.md"
RATIO_TARGET = 1.2
CAP_MB = 300


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# ---------------------------------------------------------------- the worker (child process)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _http(url: str, *, data: dict | None = None, token: str = "", follow: bool = True):
    headers = {"Accept": "application/json"}
    body = None
    if data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers)
    opener = urllib.request.build_opener(*([] if follow else [_NoRedirect]))
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:  # the 302 of /authorize lands here
        return exc.code, dict(exc.headers), exc.read()


def connect_site(url: str):
    """The real 3LO flow over HTTP against the sandbox process (scripted consent)."""
    from datetime import timedelta

    from django.utils import timezone

    from sandbox.pytest_plugin import BACKUP_SCOPES
    from sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REDIRECT_URIS
    from tests.factories import GrantSiteFactory, JiraSiteFactory, OAuthGrantFactory

    scope = BACKUP_SCOPES if isinstance(BACKUP_SCOPES, str) else " ".join(BACKUP_SCOPES)
    csrf = secrets.token_urlsafe(8)
    query = urllib.parse.urlencode(
        {
            "audience": "api.atlassian.com",
            "client_id": DEFAULT_CLIENT_ID,
            "scope": scope,
            "redirect_uri": DEFAULT_REDIRECT_URIS[0],
            "state": csrf,
            "response_type": "code",
            "prompt": "consent",
        }
    )
    status, headers, _ = _http(f"{url}/authorize?{query}", follow=False)
    location = headers.get("Location") or headers.get("location")
    assert status == 302 and location, f"authorize answered {status}"
    params = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    assert params["state"] == [csrf]
    status, _, body = _http(
        f"{url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "code": params["code"][0],
            "redirect_uri": DEFAULT_REDIRECT_URIS[0],
        },
    )
    assert status == 200, body
    tokens = json.loads(body)
    status, _, body = _http(f"{url}/oauth/token/accessible-resources", token=tokens["access_token"])
    assert status == 200, body
    resource_ = json.loads(body)[0]
    site = JiraSiteFactory(cloud_id=resource_["id"], name=resource_["name"], url=resource_["url"])
    grant = OAuthGrantFactory(
        access_token=tokens["access_token"],
        refresh_token=tokens.get("refresh_token"),
        access_token_expires_at=timezone.now() + timedelta(hours=10),
    )
    GrantSiteFactory(grant=grant, site=site, in_use=True)
    return site


def child(args) -> int:
    from bench.backup_bench import setup_django

    tmp = Path(tempfile.mkdtemp(prefix="backup-memory-"))
    setup_django(tmp, args.database_url)
    from django.conf import settings

    from sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REDIRECT_URIS

    assert not settings.DEBUG, "DEBUG must be off: Django would keep every query"
    settings.ATLASSIAN_AUTH_URL = args.sandbox_url
    settings.ATLASSIAN_API_URL = args.sandbox_url
    settings.ATLASSIAN_CLIENT_ID = DEFAULT_CLIENT_ID
    settings.ATLASSIAN_CLIENT_SECRET = DEFAULT_CLIENT_SECRET
    settings.ATLASSIAN_REDIRECT_URI = DEFAULT_REDIRECT_URIS[0]

    from backups.engine.runner import run_job
    from backups.models import BackupJob
    from backups.services import backup_job_enqueue

    site = connect_site(args.sandbox_url)
    before_mb = peak_mb()
    job, _ = backup_job_enqueue(site=site, kind="full", acting_user=None)
    started = time.perf_counter()
    samples = []
    partial = False
    while True:
        outcome = run_job(job.pk, slice_seconds=args.slice_seconds)
        job.refresh_from_db()
        elapsed = time.perf_counter() - started
        samples.append(
            [round(elapsed, 1), job.objects_done, round(peak_mb(), 1), round(current_mb(), 1)]
        )
        print("  slice", samples[-1], flush=True)
        if job.status not in ("queued", "running"):
            break
        if args.max_seconds and elapsed > args.max_seconds:
            partial = True
            break
        if outcome.state == "requeue" and outcome.countdown:
            time.sleep(min(outcome.countdown, 2))
    result = {
        "issues": args.issues,
        "status": job.status,
        "reason": job.status_reason,
        "partial": partial,
        "objects_done": job.objects_done,
        "objects_total": job.objects_total,
        "seconds": round(time.perf_counter() - started, 1),
        "before_mb": round(before_mb, 1),
        "peak_mb": round(peak_mb(), 1),
        "samples": samples,
    }
    print("RESULT " + json.dumps(result), flush=True)
    BackupJob.objects.filter(pk=job.pk).exclude(status="succeeded").update(
        status="cancelled", status_reason="benchmark stopped"
    )
    return 0


# ---------------------------------------------------------------- the parent


def measure(issues: int, args) -> dict:
    """One sandbox process and one worker process for a site of `issues` issues."""
    port = args.port
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--seed",
            "memory",
            "--projects",
            str(args.projects),
            "--issues",
            str(issues),
            "--no-rate-limits",
            "--auto-consent",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = sandbox.stdout.readline()
        assert "ready at" in line, f"sandbox did not start: {line!r}"
        url = line.rsplit(" ", 1)[-1].strip()
        print(f"{issues} issues: sandbox pid {sandbox.pid} at {url}", flush=True)
        command = [
            sys.executable,
            "-m",
            "bench.backup_memory_bench",
            "--child",
            "--sandbox-url",
            url,
            "--issues",
            str(issues),
            "--slice-seconds",
            str(args.slice_seconds),
            "--max-seconds",
            str(args.max_seconds),
        ]
        if args.database_url:
            command += ["--database-url", args.database_url]
        worker = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        sys.stdout.write(worker.stdout)
        result = None
        for out in worker.stdout.splitlines():
            if out.startswith("RESULT "):
                result = json.loads(out[len("RESULT ") :])
        assert result is not None, f"worker failed:\n{worker.stderr[-3000:]}"
        return result
    finally:
        sandbox.send_signal(signal.SIGTERM)
        try:
            sandbox.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sandbox.kill()


def report(small: dict, large: dict, args) -> tuple[list[str], bool]:
    ratio = large["peak_mb"] / small["peak_mb"]
    complete = not small["partial"] and not large["partial"]
    ok = complete and ratio <= RATIO_TARGET and large["peak_mb"] < CAP_MB
    ok = ok and small["status"] == large["status"] == "succeeded"

    def describe(r: dict) -> str:
        done = f"{r['objects_done']} of {r['objects_total']} issues"
        state = "partial (stopped by --max-seconds)" if r["partial"] else r["status"]
        return f"{r['peak_mb']:.1f} MB ({state}, {done}, {r['seconds']:.0f} s)"

    at = "" if complete else f" (stopped at {large['objects_done']})"
    verdict_ratio = "meets" if ratio <= RATIO_TARGET else "misses"
    verdict_cap = "meets" if large["peak_mb"] < CAP_MB else "misses"
    lines = [
        "## Backup worker memory",
        "",
        f"`python -m bench.backup_memory_bench --small {args.small} --large {args.large} "
        f"--projects {args.projects}` on {platform.machine()} / Python "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. The sandbox "
        "runs in a process of its own (rate limits off; its memory does not count); the worker "
        "is a separate process that connects the site over the real 3LO flow and runs the full "
        "backup synchronously with the engine, on "
        f"{'PostgreSQL' if args.database_url else 'SQLite'} and filesystem storage. "
        "Peak RSS is the worker's `getrusage(RUSAGE_SELF).ru_maxrss`.",
        "",
        "| measure | target | measured | ratio |",
        "|---|---|---|---|",
        f"| Peak RSS, {args.large}{at} vs {args.small} issues | ≤ {RATIO_TARGET} x | "
        f"{large['peak_mb']:.1f} MB / {small['peak_mb']:.1f} MB | {ratio:.3f} ({verdict_ratio}"
        f"{'' if complete else ', partial run'}) |",
        f"| Peak RSS, {args.large} issues{at} | < {CAP_MB} MB | {large['peak_mb']:.1f} MB | "
        f"{large['peak_mb'] / CAP_MB:.3f} ({verdict_cap}{'' if complete else ', partial run'}) |",
        "",
        f"* {args.small} issues: {describe(small)}; before the backup (Django, site "
        f"connected) {small['before_mb']:.1f} MB.",
        f"* {args.large} issues: {describe(large)}; before the backup {large['before_mb']:.1f} MB.",
        "",
        "Peak RSS after each slice of the larger run (seconds, issues done, peak MB, "
        "current MB): "
        + ", ".join(f"{s[0]:.0f}s/{s[1]}/{s[2]:.0f}/{s[3]:.0f}" for s in large["samples"][-12:])
        + ".",
    ]
    projection = project(small, large)
    if projection:
        lines += ["", projection]
    return lines, ok


def project(small: dict, large: dict) -> str:
    """For a partial larger run: the growth of the peak per issue past the smaller size, and
    the peak it points to at the full size (a projection, not a measurement)."""
    if not large["partial"]:
        return ""
    points = [(s[1], s[2]) for s in large["samples"] if s[1] >= small["issues"]]
    if len(points) < 2 or points[-1][0] == points[0][0]:
        return ""
    (n0, m0), (n1, m1) = points[0], points[-1]
    slope = (m1 - m0) / (n1 - n0)
    total = large["objects_total"] or large["issues"]
    at_total = m1 + slope * (total - n1)
    return (
        f"The larger run was stopped at {large['objects_done']} of {total} issues. Between "
        f"{n0} and {n1} issues its peak grew by {slope * 1024 * 1000 / 1000:.2f} KB per issue; "
        f"carried on to {total} issues (before the commit step, which builds the manifest in "
        f"memory), that projects to about {at_total:.0f} MB, "
        f"{at_total / small['peak_mb']:.2f} x the {small['issues']}-issue peak. "
        "Projection only, not a measurement."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=10000)
    parser.add_argument("--large", type=int, default=100000)
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--slice-seconds", type=float, default=60)
    parser.add_argument("--max-seconds", type=float, default=0, help="0: run to the end")
    parser.add_argument("--database-url", default="", help="flushed! default: scratch SQLite")
    parser.add_argument(
        "--only",
        choices=("small", "large"),
        help="measure one size; the other's figures come from its last run (saved in /tmp)",
    )
    parser.add_argument(
        "--report", action="store_true", help="measure nothing: report the saved figures"
    )
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sandbox-url", help=argparse.SUPPRESS)
    parser.add_argument("--issues", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    results = {}
    sizes = {"small": args.small, "large": args.large}
    saved = {
        name: Path(tempfile.gettempdir()) / f"backup-memory-{n}-{args.projects}.json"
        for name, n in sizes.items()
    }
    for name, issues in sizes.items():
        if not args.report and (not args.only or args.only == name):
            results[name] = measure(issues, args)
            saved[name].write_text(json.dumps(results[name]))
    for name, issues in sizes.items():
        if name not in results:
            if not saved[name].exists():
                print(f"no saved figures for {issues} issues yet: run --only {name}")
                return 0
            results[name] = json.loads(saved[name].read_text())
    small, large = results["small"], results["large"]
    lines, ok = report(small, large, args)
    text = "\n".join(["<!-- backup-memory:start -->", *lines, "<!-- backup-memory:end -->"])
    print(text)
    if not args.no_docs:
        DOC.write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
