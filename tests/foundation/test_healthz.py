import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_it_reports_every_component_reachable(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "storage": "ok"},
    }


@pytest.mark.django_db
def test_it_answers_503_naming_an_unreachable_broker(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unreachable")


@pytest.mark.django_db
def test_it_answers_503_naming_unwritable_storage(client, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker)},
        },
    }

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["storage"]


def test_it_reports_an_unreachable_database(tmp_path):
    # A real unreachable server: PostgreSQL on a port where nothing listens.
    script = (
        "from django.test import Client; r = Client().get('/healthz');"
        " print(r.status_code); print(r.content.decode())"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DEBUG": "true",
            "ALLOWED_HOSTS": "testserver",
            "VAR_DIR": str(tmp_path),
            "FIELD_ENCRYPTION_KEYS": "k1:" + "A" * 43,
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/portal",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    status, body = result.stdout.strip().splitlines()[:2]
    assert status == "503", result.stderr
    assert json.loads(body)["failing"] == ["database"]
