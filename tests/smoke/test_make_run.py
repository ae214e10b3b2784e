"""`make run` on the embedded defaults, on free non-default ports: it seeds the demo with links on
those ports, serves the admin login page, and stops on Ctrl-C; a seed that fails stops it with
a clear last line and a failure status.

Runs the real Makefile target in a scratch VAR_DIR (its own SQLite file, broker folders and
storage) and a scratch env file (ENV_FILE: the developer's .env is never touched), with
PostgreSQL/Redis variables removed so the embedded defaults apply.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[2]
# A fresh terminal's environment: the test process's own carries the test settings' values
# (DEBUG=false, keys, storage) and whatever a developer's .env put there.
KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "CI")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, deadline: float) -> requests.Response | None:
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            time.sleep(0.5)
    return None


def wait_for_text(path: Path, pattern: str, deadline: float, process) -> bool:
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists() and re.search(pattern, path.read_text(errors="replace")):
            return True
        time.sleep(1)
    return False


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def make_run(tmp_path, **extra: str) -> tuple[subprocess.Popen, Path, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k in KEPT}
    env.update(
        VAR_DIR=str(tmp_path / "var"),
        ENV_FILE=str(tmp_path / ".env"),
        PORTAL_PORT=str(free_port()),
        SANDBOX_PORT=str(free_port()),
        **extra,
    )
    log = tmp_path / "make-run.log"
    process = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, log, env


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise


@pytest.mark.timeout(600)  # installs if needed, migrates, starts five processes, seeds
def test_make_run_on_other_ports_seeds_the_demo_with_links_on_them_and_stops_on_ctrl_c(tmp_path):
    process, log, env = make_run(tmp_path)
    portal, sandbox_port = env["PORTAL_PORT"], env["SANDBOX_PORT"]
    try:
        seeded = wait_for_text(log, r"Sign in as .*password: \S+", time.monotonic() + 300, process)
        response = wait_for(f"http://127.0.0.1:{portal}/admin/login/", time.monotonic() + 30)
        sandbox = wait_for(f"http://127.0.0.1:{sandbox_port}/_sandbox/state", time.monotonic() + 30)
    finally:
        stop(process)
    output = log.read_text()

    assert seeded, output[-3000:]
    assert response is not None and response.status_code == 200, output[-3000:]
    assert "csrfmiddlewaretoken" in response.text
    assert sandbox is not None and sandbox.status_code == 200, output[-3000:]
    # The way in is the last thing the seed says, on the chosen port, password included.
    seed_lines = [line for line in output.splitlines() if " seed.1 " in line]
    assert f"Staff admin   http://127.0.0.1:{portal}/admin/" in output
    assert "password: " + dotenv_values(tmp_path / ".env")["DEMO_ADMIN_PASSWORD"] in output
    assert len(seed_lines) < 40, "the seed's details belong in its log file"
    # Shell commands read the env file: it names the same ports.
    written = dotenv_values(tmp_path / ".env")
    assert written["SITE_URL"] == f"http://127.0.0.1:{portal}"
    assert written["ATLASSIAN_AUTH_URL"] == f"http://127.0.0.1:{sandbox_port}"
    # The demo was seeded through the sandbox on its port, and mailed links to the portal's.
    with sqlite3.connect(tmp_path / "var" / "portal.sqlite3") as db:
        tenants = {slug for (slug,) in db.execute("select slug from tenants_tenant")}
        urls = [url for (url,) in db.execute("select url from tenants_jirasite")]
    assert {"demo-acme", "demo-hooli", "demo-aperture"} <= tenants
    assert urls and all(f"127.0.0.1:{sandbox_port}/" in url for url in urls)
    details = (tmp_path / "var" / "seed-demo.log").read_text()
    assert f"http://127.0.0.1:{portal}/migrate/invite/" in details
    assert ":8000/" not in details and ":8765" not in details
    assert "No hostname was supplied" not in output + details
    assert port_is_closed(int(portal)) and port_is_closed(int(sandbox_port)), output[-3000:]


@pytest.mark.timeout(600)
def test_make_run_stops_with_a_clear_last_line_when_the_demo_cannot_be_seeded(tmp_path):
    # The seed's connect flow meets an API gateway that is not there.
    process, log, _env = make_run(tmp_path, ATLASSIAN_API_URL=f"http://127.0.0.1:{free_port()}")
    try:
        status = process.wait(timeout=300)
    except subprocess.TimeoutExpired:
        stop(process)
        raise
    output = log.read_text()
    ours = [line for line in output.splitlines() if line.startswith("make run stopped:")]

    assert status != 0, output[-3000:]
    assert ours == [ours[-1]] and ours[-1].startswith(
        "make run stopped: the demo could not be seeded (exit status 1): "
        "CommandError: seeding the demo failed:"
    ), output[-3000:]
    # Nothing but make's own error line comes after it.
    after = output.split(ours[-1], 1)[1].strip().splitlines()
    assert all(line.startswith("make: ") for line in after), after
