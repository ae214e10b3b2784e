"""`make run`'s last step: start the sandbox, web server, Celery worker and beat, and seed the demo.

honcho runs the processes of ``Procfile.dev`` and stops all of them when one stops, or on Ctrl-C
(SIGINT) or SIGTERM. They run with the values of ``portal.localenv.local_settings`` (the ports
and the URLs derived from them, the ``.env`` secrets, the environment on top); honcho is told
to read no ``.env`` of its own, so nothing overrides them. Its output passes through here: when
a process stops on its own (the seed failed, a port was taken), the last line printed names it
and what it said last, and the exit status is not 0.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from portal.localenv import local_settings

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^\S+ (?P<name>[\w.-]+)\s*\| (?P<text>.*)$")
STOPPED = re.compile(r"^(?P<name>[\w.-]+) stopped \(rc=(?P<rc>-?\d+)\)$")


def process_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    environ = dict(os.environ if environ is None else environ)
    env = {**environ, **local_settings(environ)}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Watch:
    """What the processes said last, and which one stopped first on its own."""

    last_line: dict[str, str] = field(default_factory=dict)
    first_stop: tuple[str, int] | None = None

    def feed(self, line: str) -> None:
        match = LINE.match(line.rstrip("\n"))
        if match is None:
            return
        name, text = match["name"], match["text"].strip()
        if name != "system":
            if text:
                self.last_line[name] = text
            return
        stopped = STOPPED.match(text)
        if stopped and self.first_stop is None:
            self.first_stop = (stopped["name"], int(stopped["rc"]))

    def failure(self) -> str | None:
        """One line on why everything stopped, or None when nothing failed."""
        if self.first_stop is None:
            return None
        name, rc = self.first_stop
        if rc == 0 or rc < 0:  # stopped cleanly, or by a signal we (or the user) sent
            return None
        said = self.last_line.get(name, "(no output)")
        process = name.split(".")[0]
        if process == "seed":
            return f"make run stopped: the demo could not be seeded (exit status {rc}): {said}"
        return f"make run stopped: {process} exited with status {rc}: {said}"


def supervise(command: list[str], env: dict[str, str], out=sys.stdout) -> int:
    """Run honcho, pass its output through, and end with a clear line if a process failed."""
    process = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    interrupted = []

    def forward(signum, frame):
        interrupted.append(signum)
        if process.poll() is None:
            process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    watch = Watch()
    try:
        for line in _lines(process.stdout):
            out.write(line)
            out.flush()
            watch.feed(line)
        rc = process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    problem = None if interrupted else watch.failure()
    if problem:
        print(problem, file=out, flush=True)
        return rc or 1
    return 0 if interrupted else rc


def _lines(stream) -> Iterable[str]:
    while True:
        try:
            line = stream.readline()
        except InterruptedError:  # a forwarded signal; keep reading until honcho is done
            continue
        if not line:
            return
        yield line


def main() -> None:
    env = process_env()
    honcho = shutil.which("honcho", path=env["PATH"])
    if honcho is None:
        raise SystemExit("honcho is not installed: run `make run` (it installs requirements)")
    print(
        "\n".join(
            [
                "",
                f"  Starting the demo: portal {env['SITE_URL']}/, "
                f"Atlassian sandbox {env['ATLASSIAN_AUTH_URL']}/",
                "  Seeding takes about a minute; the sign-in details are printed when it is done.",
                "  Ctrl-C stops everything.",
                "",
            ]
        ),
        flush=True,
    )
    # --env /dev/null: honcho would otherwise read .env itself and override these values.
    command = [honcho, "--env", os.devnull, "-f", "Procfile.dev", "start"]
    sys.exit(supervise(command, env))


if __name__ == "__main__":
    main()
