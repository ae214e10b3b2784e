"""`make run`'s last step: start the sandbox, web server, Celery worker and beat together.

honcho runs the processes of ``Procfile.dev`` and stops all of them cleanly on Ctrl-C (or
SIGTERM). Ports come from PORTAL_PORT (8000) and SANDBOX_PORT (8765).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    env = os.environ.copy()
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PORTAL_PORT", "8000")
    env.setdefault("SANDBOX_PORT", "8765")
    env.setdefault("SITE_URL", f"http://127.0.0.1:{env['PORTAL_PORT']}")
    sandbox_url = f"http://127.0.0.1:{env['SANDBOX_PORT']}"
    env.setdefault("ATLASSIAN_AUTH_URL", sandbox_url)
    env.setdefault("ATLASSIAN_API_URL", sandbox_url)
    env["PYTHONUNBUFFERED"] = "1"
    password = env.get("DEMO_ADMIN_PASSWORD") or dotenv_values(ROOT / ".env").get(
        "DEMO_ADMIN_PASSWORD", "(see .env)"
    )
    print(
        "\n".join(
            [
                "",
                f"  Portal     {env['SITE_URL']}/",
                f"  Admin      {env['SITE_URL']}/admin/  (admin@example.com / {password})",
                f"  Sandbox    {sandbox_url}/  (Atlassian stand-in)",
                "  Ctrl-C stops everything.",
                "",
            ]
        ),
        flush=True,
    )
    honcho = shutil.which("honcho", path=env["PATH"])
    if honcho is None:
        raise SystemExit("honcho is not installed: run `make run` (it installs requirements)")
    os.chdir(ROOT)
    os.execvpe(honcho, [honcho, "-f", "Procfile.dev", "start"], env)


if __name__ == "__main__":
    main()
