"""`python -m sandbox --port 8765 --seed demo`: serve the Atlassian sandbox until Ctrl-C."""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading

from sandbox.model import Client
from sandbox.server import start
from sandbox.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URIS,
    SandboxState,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", default="demo", help="demo, any name or an integer")
    parser.add_argument("--projects", type=int, default=3, help="projects per site")
    parser.add_argument("--issues", type=int, default=60, help="issues per site")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        help="registered callback URL (repeatable)",
    )
    parser.add_argument(
        "--auto-consent",
        action="store_true",
        help="skip the consent page: the demo admin approves its first site",
    )
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument(
        "--features",
        default="",
        help='"all" or some of workflows,hierarchy,agile,media (default: classic sites)',
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    client = Client(
        args.client_id, args.client_secret, args.redirect_uris or list(DEFAULT_REDIRECT_URIS)
    )
    state = SandboxState(
        seed=args.seed,
        projects=args.projects,
        issues=args.issues,
        auto_consent=args.auto_consent,
        clients=[client],
        features=args.features,
    )
    state.rate_limits_enabled = not args.no_rate_limits
    # The world is built: keep the collector from rescanning it on every cycle.
    gc.freeze()
    running = start(state, port=args.port, host=args.host)
    print(f"Atlassian sandbox ready at {running.url}", flush=True)
    print(
        f"  client_id={client.client_id} admin={state.admin.email} "
        f"api_token={state.demo_api_token}",
        file=sys.stderr,
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
