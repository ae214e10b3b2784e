from django.conf import settings

from portal.celery import app


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()

    missing = {
        name: entry["task"]
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if entry["task"] not in app.tasks
    }

    assert missing == {}
