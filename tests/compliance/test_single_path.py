"""Nothing reaches Atlassian except through atlassian.client: a wider import scan than
tests/atlassian/test_boundaries.py (raw sockets, TLS, other HTTP stacks, dynamic imports,
curl in a subprocess), and a runtime guard on the connections a real flow makes."""

from __future__ import annotations

import ast
import http.client
import importlib.util
import socket
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.test import override_settings
from django.utils import timezone

from atlassian.client import JiraClient
from backups.models import BackupJob
from tests.backups.conftest import backup, connect_site
from tests.compliance.conftest import legacy_site
from tests.compliance.guard import AtlassianConnectionGuard

ROOT = Path(__file__).resolve().parents[2]
# Network modules first-party code must not use at all (the client uses requests only).
NETWORK_MODULES = (
    "requests",
    "requests_oauthlib",
    "urllib3",
    "httpx",
    "http.client",
    "urllib.request",
    "socket",
    "ssl",
    "aiohttp",
    "pycurl",
    "httplib2",
    "websocket",
    "websockets",
    "tornado.httpclient",
    "twisted.web",
    "asyncio.open_connection",
)
NETWORK_CALLS = {"open_connection", "create_connection", "urlopen"}
ALLOWED = ("atlassian", "sandbox", "tests", "bench")
SKIP_DIRS = {".venv", "var", "node_modules", ".git", "migrations", "__pycache__"}


def first_party_files():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if any(p in SKIP_DIRS or p.startswith(".") for p in parts[:-1]):
            continue
        if parts[0] in ALLOWED:
            continue
        yield path


def _is_network(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in NETWORK_MODULES)


def _literal(node: ast.AST):
    """A constant argument's value (a list of constants as a list), else None."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        return [str(e.value) for e in node.elts if isinstance(e, ast.Constant)]
    return None


def network_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    found = []
    for node in ast.walk(tree):
        hit = None
        if isinstance(node, ast.Import):
            hit = next((a.name for a in node.names if _is_network(a.name)), None)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            hit = next((n for n in names if _is_network(n)), None)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            args = [_literal(a) for a in node.args]
            if name in ("import_module", "__import__") and any(
                isinstance(a, str) and _is_network(a) for a in args
            ):
                hit = f"dynamic import of {args[0]}"
            elif name in NETWORK_CALLS:
                hit = f"call to {name}()"
            elif name in (
                "run",
                "Popen",
                "call",
                "check_call",
                "check_output",
                "system",
            ):
                words = " ".join(
                    " ".join(a) if isinstance(a, list) else str(a or "") for a in args
                ).split()
                if words and Path(words[0]).name in ("curl", "wget", "http"):
                    hit = f"{words[0]} in a subprocess"
        if hit:
            found.append(f"{shown}:{node.lineno} {hit}")
    return found


def test_no_first_party_module_opens_network_connections_of_its_own():
    offenders = [hit for path in first_party_files() for hit in network_uses(path)]
    assert offenders == [], "talk to Atlassian through atlassian.client only:\n" + "\n".join(
        offenders
    )


def test_the_wider_scan_catches_sockets_tls_dynamic_imports_and_curl(tmp_path):
    source = tmp_path / "rogue.py"
    source.write_text(
        "import socket\n"
        "import ssl as tls\n"
        "from asyncio import open_connection\n"
        "import importlib, subprocess, os\n"
        "requests = importlib.import_module('requests')\n"
        "subprocess.run(['curl', 'https://api.atlassian.com/me'])\n"
        "os.system('curl https://x.atlassian.net')\n"
        "socket.create_connection(('api.atlassian.com', 443))\n"
    )
    hits = network_uses(source)
    assert [h.split(" ", 1)[1] for h in hits] == [
        "socket",
        "ssl",
        "asyncio.open_connection",
        "dynamic import of requests",
        "curl in a subprocess",
        "curl in a subprocess",
        "call to create_connection()",
    ]


# -- the runtime guard --------------------------------------------------------------------


@pytest.fixture
def guard(compliance_env, monkeypatch):
    """The guard, installed after the sandbox is set up (its test harness plays the browser)."""
    return AtlassianConnectionGuard.from_settings().install(monkeypatch)


@pytest.fixture
def sandbox_address(compliance_env) -> tuple[str, int]:
    parts = urlsplit(compliance_env.url)
    return parts.hostname, parts.port


@pytest.mark.django_db
def test_the_guard_catches_http_client_from_a_module_outside_the_client(
    guard, sandbox_address, tmp_path
):
    host, port = sandbox_address
    module = tmp_path / "sneaky_export.py"
    module.write_text(
        "import http.client\n"
        "def fetch(host, port):\n"
        "    conn = http.client.HTTPConnection(host, port, timeout=5)\n"
        "    conn.request('GET', '/rest/api/3/serverInfo')\n"
        "    return conn.getresponse().status\n"
    )
    spec = importlib.util.spec_from_file_location("sneaky_export", module)
    sneaky = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sneaky)
    sneaky.fetch(host, port)
    # The temporary module is not first-party, so the first of our frames is this test.
    assert len(guard.violations) == 1
    assert "tests/compliance/test_single_path.py" in guard.violations[0]
    assert f"{host}:{port}" in guard.violations[0]


@pytest.mark.django_db
def test_the_guard_catches_raw_sockets_and_requests_used_directly(guard, sandbox_address):
    host, port = sandbox_address
    socket.create_connection((host, port), timeout=5).close()
    requests.get(f"http://{host}:{port}/rest/api/3/serverInfo", timeout=5)
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/")
    conn.getresponse().read()
    assert len(guard.violations) == 3
    assert guard.allowed == 0


@pytest.mark.django_db
def test_the_guard_refuses_looking_up_atlassian_outside_the_client(guard):
    with pytest.raises(OSError, match=r"only be reached through atlassian\.client"):
        socket.getaddrinfo("api.atlassian.com", 443)
    assert "looked up Atlassian host api.atlassian.com" in guard.violations[0]


@pytest.mark.django_db
def test_the_client_itself_passes_the_guard(guard, compliance_env):
    with JiraClient.anonymous(f"{compliance_env.url}/site/acme") as client:
        assert client.server_info()
    assert guard.violations == []
    assert guard.allowed >= 1


@pytest.mark.django_db
def test_backups_of_a_migrated_and_a_legacy_tenant_only_use_the_client(compliance_env, monkeypatch):
    sandbox = compliance_env
    migrated = connect_site(sandbox, "acme")
    legacy = legacy_site(sandbox, "globex")
    guard = AtlassianConnectionGuard.from_settings().install(monkeypatch)

    with override_settings(LEGACY_CUTOFF=timezone.now() + timedelta(days=1)):
        assert backup(migrated).status == BackupJob.Status.SUCCEEDED
        assert backup(legacy).status == BackupJob.Status.SUCCEEDED

    assert guard.violations == []
    assert guard.allowed >= 2
    assert sandbox.requests_where(credential="basic")
    assert sandbox.requests_where(credential="bearer")
