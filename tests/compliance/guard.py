"""A runtime guard: every network connection to Atlassian must come from the one client.

The AST scan (tests/atlassian/test_boundaries.py, tests/compliance/test_single_path.py) finds
code that *imports* a network library; this guard catches what slips past it (a library that
opens sockets itself, a dynamic import, a vendored helper) by watching the connections a test
really makes:

* ``socket.socket.connect`` / ``connect_ex`` to an Atlassian endpoint (the hosts and ports of
  ``ATLASSIAN_AUTH_URL`` / ``ATLASSIAN_API_URL`` — the sandbox in tests — and any address
  resolved from an Atlassian host name) is allowed only when ``atlassian/client.py`` is on the
  call stack; otherwise it is recorded as a violation naming the first first-party frame.
  Every socket-based client goes through this method (``http.client``, ``urllib3``,
  ``requests``, ``ssl``, ``asyncio``'s ``sock_connect``).
* ``socket.getaddrinfo`` for ``*.atlassian.com`` / ``*.atlassian.net`` outside the client is
  recorded and refused (tests never reach the real Atlassian).

It observes our own process only; it fakes nothing (the sandbox still answers over HTTP).
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
CLIENT = str(ROOT / "atlassian" / "client.py")
THIS = str(Path(__file__).resolve())
ATLASSIAN_DOMAINS = (".atlassian.com", ".atlassian.net", ".atl-paas.net")


def _is_atlassian_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d[1:] or host.endswith(d) for d in ATLASSIAN_DOMAINS)


def _first_party_frame(frame) -> str:
    """``path:line`` of the innermost frame of our own code (not the stdlib, not a library,
    not this guard)."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(str(ROOT)) and "/.venv/" not in filename and filename != THIS:
            return f"{Path(filename).relative_to(ROOT)}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _through_client(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_filename == CLIENT:
            return True
        frame = frame.f_back
    return False


@dataclass
class AtlassianConnectionGuard:
    endpoints: set[tuple[str, int]] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)
    allowed: int = 0  # connections the client made (proof that the guard is watching)

    @classmethod
    def from_settings(cls) -> AtlassianConnectionGuard:
        from django.conf import settings

        guard = cls()
        for url in (settings.ATLASSIAN_AUTH_URL, settings.ATLASSIAN_API_URL):
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            guard.add_endpoint(parts.hostname or "", port)
        return guard

    def add_endpoint(self, host: str, port: int) -> None:
        self.endpoints.add((host, port))
        if host in ("localhost", "127.0.0.1", "::1"):
            self.endpoints |= {("127.0.0.1", port), ("::1", port), ("localhost", port)}

    # -- checks ------------------------------------------------------------------------------

    def check_connect(self, address) -> None:
        if not isinstance(address, tuple) or len(address) < 2:
            return  # a Unix socket
        target = (str(address[0]), int(address[1]))
        if target not in self.endpoints:
            return
        caller = sys._getframe(2)
        if _through_client(caller):
            self.allowed += 1
            return
        self.violations.append(
            f"{_first_party_frame(caller)} connected to Atlassian {target[0]}:{target[1]} "
            "without atlassian.client"
        )

    def check_lookup(self, host, port) -> None:
        if not isinstance(host, str | bytes):
            return
        name = host.decode() if isinstance(host, bytes) else host
        if not _is_atlassian_name(name):
            return
        caller = sys._getframe(2)
        if _through_client(caller):
            self.allowed += 1
            return
        self.violations.append(
            f"{_first_party_frame(caller)} looked up Atlassian host {name} without atlassian.client"
        )
        raise OSError(f"test guard: {name} may only be reached through atlassian.client")

    # -- installation ------------------------------------------------------------------------

    def install(self, monkeypatch) -> AtlassianConnectionGuard:
        guard = self
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_getaddrinfo = socket.getaddrinfo

        def connect(sock, address):
            guard.check_connect(address)
            return real_connect(sock, address)

        def connect_ex(sock, address):
            guard.check_connect(address)
            return real_connect_ex(sock, address)

        def getaddrinfo(host, port, *args, **kwargs):
            guard.check_lookup(host, port)
            return real_getaddrinfo(host, port, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        return self
