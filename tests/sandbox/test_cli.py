"""`python -m sandbox` starts quickly and prints its URL."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_python_m_sandbox_starts_and_prints_its_url():
    # How fast it starts is measured by bench/sandbox_bench.py (never timed in a test).
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--seed", "demo", "--auto-consent"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        assert line == f"Atlassian sandbox ready at http://127.0.0.1:{port}"
        summary = requests.get(f"http://127.0.0.1:{port}/_sandbox/state", timeout=5).json()
        assert summary["consent"]["auto"] is True
        assert {s["name"] for s in summary["sites"]} == {"acme", "globex"}
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_the_command_line_takes_site_features():
    from sandbox.__main__ import parse_args
    from sandbox.state import SandboxState

    args = parse_args(["--features", "workflows,agile", "--issues", "10"])
    state = SandboxState(seed=args.seed, issues=args.issues, features=args.features)
    assert state.site("acme").features == {"workflows", "agile"}
    assert parse_args([]).features == ""
