"""One harness over the two engines of the job driver, so every row of the failure map is shown
for a backup *and* for a restore: ``engine`` is a backup of ``acme``, or a restore of a snapshot of
``acme`` into the empty site ``bravo``; either way ``engine.site`` is the site the job talks to."""

from __future__ import annotations

import pytest
from django.core import mail

from backups.engine.runner import run_job
from backups.jobs.driver import SliceOutcome
from backups.models import BackupJob
from backups.restore.executor import run_restore
from backups.restore.models import RestoreJob
from backups.restore.services import restore_job_create
from backups.services import backup_job_enqueue
from tenants.models import JiraSite
from tests.backups.conftest import backup
from tests.factories import MembershipFactory, UserFactory


class Engine:
    def __init__(self, kind: str, sandbox, acme: JiraSite) -> None:
        self.kind = kind
        self.sandbox = sandbox
        self.acme = acme
        # A tenant admin, so that re-authorization notices have someone to go to.
        MembershipFactory(tenant=acme.tenant, user=UserFactory(email="owner@acme.test"))
        if kind == "backup":
            self.model = BackupJob
            self.site = acme
            self.snapshot = None
        else:
            from tests.restore.conftest import empty_site

            self.model = RestoreJob
            self.snapshot = backup(acme).snapshot
            self.site = empty_site(sandbox, "bravo", tenant=acme.tenant)
        self.sandbox.state.request_log.clear()
        mail.outbox.clear()

    def __repr__(self) -> str:
        return self.kind

    @property
    def sandbox_site(self):
        return self.sandbox.site(self.site.name)

    @property
    def api_prefix(self) -> str:
        """Path prefix of every request the job sends to its site."""
        return f"/ex/jira/{self.site.cloud_id}/"

    def start(self, **options):
        if self.kind == "backup":
            job, created = backup_job_enqueue(
                site=self.site, kind=options.pop("kind", BackupJob.Kind.FULL), acting_user=None
            )
            assert created
            return job
        options.pop("kind", None)
        return restore_job_create(
            snapshot=self.snapshot,
            target_site=self.site,
            acting_user=None,
            enqueue=False,
            **options,
        )

    def run_slice(self, job, *, slice_seconds: float = 3600) -> SliceOutcome:
        runner = run_job if self.kind == "backup" else run_restore
        outcome = runner(job.pk, slice_seconds=slice_seconds)
        job.refresh_from_db()
        return outcome

    def run_until_it_ends(self, job, *, max_slices: int = 200):
        """Slice after slice without sleeping (a claim does not wait for ``not_before``), until
        the job leaves the active states; the outcomes of every slice are kept on the job."""
        job.outcomes = []
        for _ in range(max_slices):
            job.outcomes.append(self.run_slice(job))
            if job.status not in (self.model.Status.QUEUED, self.model.Status.RUNNING):
                return job
        raise AssertionError(f"{self.kind} {job.pk} did not end: {job.status} {job.status_reason}")

    def requests_to_site(self) -> list:
        return [
            r for r in self.sandbox.state.request_log.records if r.path.startswith(self.api_prefix)
        ]

    def token_refreshes(self) -> int:
        return len(self.sandbox.state.requests_where(path="/oauth/token"))


@pytest.fixture(params=["backup", "restore"])
def engine(request, backup_env, acme, settings) -> Engine:
    settings.RESTORE_SEARCH_SETTLE_SECONDS = 0
    return Engine(request.param, backup_env, acme)
