"""Browser tests: Playwright (sync API) driving Debian's headless Chromium against the portal
(pytest-django ``live_server``) and the sandbox. Screenshots are kept as artifacts under
``ARTIFACTS`` (``TEST_ARTIFACTS_DIR``, default ``var/test-artifacts/``: inside the repository and
ignored by git), one folder per suite.

Playwright's sync API runs an event loop in this thread, so Django would refuse ORM calls from
the test with ``SynchronousOnlyOperation``; the test thread only ever does one thing at a time.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import require

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("TEST_ARTIFACTS_DIR")
    or Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    require(CHROMIUM.exists(), "Chromium is not installed at /usr/bin/chromium")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Inside sync_playwright() the rest of the session runs in another context, and Django keeps
    # its connections per context (asgiref Local): one opened before or inside it would be left
    # open unseen, and PostgreSQL would refuse to drop the test database at the end. Close them
    # on the way in and on the way out.
    connections.close_all()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
        connections.close_all()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def shots(request):
    """``shots(page, "03-verify")`` saves <ARTIFACTS>/<suite>/<test>/03-verify.png; the suite is
    the test module's ``ARTIFACT_FOLDER`` (default "wizard")."""
    folder = ARTIFACTS / getattr(request.module, "ARTIFACT_FOLDER", "wizard") / request.node.name
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def portal(live_server, sandbox, settings, tmp_path):
    """Settings so the portal at ``live_server`` talks to the sandbox, whose app knows the
    live server's callback; legacy credentials still allowed (cutoff in the future)."""
    callback = f"{live_server.url}/connect/callback/"
    app = sandbox.state.clients[sandbox.client_id]
    if callback not in app.redirect_uris:
        app.redirect_uris.append(callback)
    for name, value in sandbox.settings().items():
        setattr(settings, name, value)
    settings.ATLASSIAN_REDIRECT_URI = callback
    settings.SITE_URL = live_server.url
    settings.REDIS_URL = ""
    settings.LEGACY_CUTOFF = datetime(2099, 1, 1, tzinfo=UTC)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }
    from django.core.files.storage import storages

    storages._storages.pop("default", None)
    sandbox.state.manual_consent()
    sandbox.state.request_log.clear()
    yield live_server
    storages._storages.pop("default", None)
