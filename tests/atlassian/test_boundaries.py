"""Nothing outside the Atlassian client talks HTTP to Atlassian, and the client says who it is."""

from __future__ import annotations

import ast
import http.server
import threading
from pathlib import Path

import pytest

from atlassian.client import JiraClient, user_agent

ROOT = Path(__file__).resolve().parents[2]
HTTP_MODULES = (
    "requests",
    "requests_oauthlib",
    "urllib3",
    "httpx",
    "http.client",
    "urllib.request",
)
# Allowed to import HTTP libraries: the client itself, Atlassian's stand-in, tests, benchmarks.
ALLOWED = ("atlassian", "sandbox", "tests", "bench")
SKIP_DIRS = {".venv", "var", "node_modules", ".git", "migrations", "__pycache__"}


def _first_party_files():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if any(p in SKIP_DIRS or p.startswith(".") for p in parts[:-1]):
            continue
        if parts[0] in ALLOWED:
            continue
        yield path


def _http_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        hits = [n for n in names if any(n == m or n.startswith(m + ".") for m in HTTP_MODULES)]
        if hits:
            found.append(f"{shown}:{node.lineno} imports {hits[0]}")
    return found


def test_the_scan_sees_the_first_party_code():
    scanned = {p.relative_to(ROOT).parts[0] for p in _first_party_files()}
    assert {"portal", "tenants"} <= scanned


def test_no_module_outside_the_client_imports_an_http_library():
    offenders = [hit for path in _first_party_files() for hit in _http_imports(path)]
    assert offenders == [], "talk to Atlassian through atlassian.client only:\n" + "\n".join(
        offenders
    )


def test_the_scan_catches_every_spelling(tmp_path):
    source = tmp_path / "bad.py"
    source.write_text(
        "import requests\nfrom urllib.request import urlopen\nimport http.client as hc\n"
        "from requests_oauthlib import OAuth2Session\nimport httpx\nfrom urllib3 import util\n"
    )
    assert len(_http_imports(source)) == 6


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self):
        type(self).seen.append(dict(self.headers))
        body = b'{"baseUrl": "x", "version": "1001.0.0"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def header_recorder():
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.seen
    server.shutdown()
    server.server_close()


def test_the_client_names_the_vendor_app_and_portal_version(
    settings, header_recorder, call_ledger, db_limiter
):
    url, seen = header_recorder
    client = JiraClient.anonymous(url, ledger=call_ledger, limiter=db_limiter)
    assert client.server_info()["version"] == "1001.0.0"
    client.close()
    assert seen[0]["User-Agent"] == user_agent()
    assert seen[0]["User-Agent"] == (
        f"JiraBackupPortal/{settings.PORTAL_VERSION} (vendor-3lo-app; +{settings.SITE_URL})"
    )
    assert "Authorization" not in seen[0]
