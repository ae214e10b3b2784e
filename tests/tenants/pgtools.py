"""PostgreSQL client tools for tests that read what an attacker with a database copy would."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest
from django.db import connection


def pg_tool(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        pytest.fail(f"{name} not found (install postgresql-client)")
    return found


def run_pg_tool(name: str, *args: str, database: str | None = None) -> str:
    """Run ``name`` against the test database's server (``database`` defaults to the test
    database itself); returns its standard output."""
    db = connection.settings_dict
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    command = [pg_tool(name), *args, "--dbname", database or db["NAME"]]
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            command += [flag, str(db[key])]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
