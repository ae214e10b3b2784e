"""The backup beat tasks as django-celery-beat rows (editable in the admin): the reaper every
minute, due schedules (and retention) every five minutes."""

from django.db import migrations

TASKS = (
    ("backups: reap stale jobs", "backups.tasks.reap_stale_backup_jobs", 60),
    ("backups: enqueue due schedules and prune", "backups.tasks.enqueue_due_backups", 300),
)


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in TASKS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True}
        )


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _, _ in TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0002_restore"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
