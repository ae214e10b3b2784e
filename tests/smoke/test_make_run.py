"""`make run` on the embedded defaults: it starts, serves the admin login page, and stops on Ctrl-C.

Runs the real Makefile target in a scratch VAR_DIR (its own SQLite file, broker folders and
storage) on free ports, with PostgreSQL/Redis variables removed so the embedded defaults apply.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


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


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_make_run_serves_the_admin_login_and_stops_on_ctrl_c(tmp_path):
    portal_port, sandbox_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        VAR_DIR=str(tmp_path / "var"),
        PORTAL_PORT=str(portal_port),
        SANDBOX_PORT=str(sandbox_port),
    )
    log = (tmp_path / "make-run.log").open("w")
    process = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        response = wait_for(f"http://127.0.0.1:{portal_port}/admin/login/", time.monotonic() + 240)
        sandbox = wait_for(f"http://127.0.0.1:{sandbox_port}/_sandbox/state", time.monotonic() + 30)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    output = (tmp_path / "make-run.log").read_text()

    assert response is not None and response.status_code == 200, output[-3000:]
    assert "csrfmiddlewaretoken" in response.text
    assert sandbox is not None and sandbox.status_code == 200, output[-3000:]
    assert f"http://127.0.0.1:{portal_port}/admin/" in output
    assert port_is_closed(portal_port) and port_is_closed(sandbox_port), output[-3000:]
