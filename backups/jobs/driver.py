"""The one job driver: backup and restore jobs run their units of work through it.

One task execution is one *slice*: claim the job's lease, then for each unit the engine offers

1. admit it against the tenant's fair share of the points pool (or hand the job back),
2. heartbeat the lease with the unit's name,
3. run it (a 401 on a token we believed valid: refresh once, single-flight, and run it again),
4. settle the points reservation with what the unit really spent — in a ``finally``, so a unit
   that fails settles too and the shared pool never leaks,
5. let the engine commit its checkpoint (under the lease: fencing),

until the engine has no unit left (it finalizes) or the slice's time is used (the job is handed
back and re-queued). Whatever a unit raises goes through the one failure map
(``backups.jobs.failures``) to a state. The engines (``backups.engine.runner``,
``backups.restore.executor``) only say what their units are.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from django.db.models import F
from django.utils import timezone

from atlassian.exceptions import ApiNotFound, ApiUnauthorized, AtlassianError
from atlassian.ratelimit import SCHEDULED
from backups import conf
from backups.engine import fairness
from backups.exceptions import LeaseLost, TenantNotActive
from backups.jobs import failures, leases
from backups.jobs.leases import Lease, LeasedJob
from tenants.models import JiraSite, Tenant
from tenants.services.sites import site_set_status

logger = logging.getLogger(__name__)


@dataclass
class SliceOutcome:
    """What one task execution of a job came to."""

    state: str  # done | requeue | not_ready | paused | failed | cancelled | busy | lost
    countdown: float = 0.0
    reason: str = ""

    def requeue_in(self, *, redelivered: bool = False) -> float | None:
        """Seconds after which the task should run the job again; None: do not re-queue.

        A *redelivered* message that finds the job held by another lease is re-queued for when
        that lease expires: its worker may have died with the message, and recovery should not
        wait for beat's reaper. A first delivery that finds it held is a duplicate: dropped."""
        if self.state in ("requeue", "not_ready"):
            return self.countdown
        if self.state == "busy" and redelivered and self.countdown > 0:
            return self.countdown
        return None


@dataclass
class Unit:
    """One unit of work: ``key`` names it (current step, logs), ``estimate`` is the points
    reserved before it runs, ``work`` is the engine's own handle on it."""

    key: str
    estimate: int
    work: Any = None


class Engine(Protocol):
    """What an engine supplies. ``site`` is the site worked on (its tenant is checked before
    every slice; a 404 of its gateway means the site is gone); ``client`` is set by ``open``."""

    job: LeasedJob
    site: JiraSite
    client: Any

    def open(self) -> None: ...
    def next_unit(self) -> Unit | None: ...
    def run(self, unit: Unit) -> Any: ...
    def commit(self, unit: Unit, result: Any, points: int) -> None: ...
    def finalize(self) -> None: ...
    def close(self) -> None: ...


def run_slice(
    model: type[LeasedJob],
    job_id: int,
    engine: Callable[[int, Lease], Engine],
    *,
    slice_seconds: float | None = None,
) -> SliceOutcome:
    """Claim the job and run one slice of it with ``engine(job_id, lease)``."""
    lease = leases.claim(model, job_id)
    if lease is None:
        held = leases.held_for(model, job_id)
        if held is None:
            return SliceOutcome("busy", reason="nothing to run: the job ended or is paused")
        return SliceOutcome("busy", held + 1.0, "another worker holds the job")
    seconds = slice_seconds if slice_seconds is not None else conf.slice_seconds()
    try:
        return _Slice(engine(job_id, lease), lease, seconds).run()
    except LeaseLost as exc:
        logger.warning("%s", exc)
        return SliceOutcome("lost", reason=str(exc))


class _Slice:
    def __init__(self, engine: Engine, lease: Lease, slice_seconds: float) -> None:
        self.engine = engine
        self.lease = lease
        self.slice_seconds = slice_seconds
        self.job = engine.job
        self.tenant_id = engine.site.tenant_id
        # Points spent by units (or probes) not yet added to the job's points_spent.
        self.unrecorded = 0

    @property
    def pool(self) -> str | None:
        client = self.engine.client
        return client.pool if client is not None else None

    @property
    def priority(self) -> str:
        """Scheduled for backups, interactive for work a person waits for (the client's)."""
        client = self.engine.client
        admission = getattr(client, "admission", None)
        return admission.priority if admission is not None else SCHEDULED

    def run(self) -> SliceOutcome:
        started = time.monotonic()
        try:
            check_tenant(self.engine.site)
            self.engine.open()
            units = 0
            while True:
                unit = self.engine.next_unit()
                if unit is None:
                    self.engine.finalize()
                    return SliceOutcome("done")
                if units and time.monotonic() - started > self.slice_seconds:
                    leases.release(self.lease)
                    return SliceOutcome("requeue", 0.0, "slice used")
                self.lease.heartbeat(current_step=unit.key[:200])
                wait = fairness.admit(
                    pool=self.pool,
                    tenant_id=self.tenant_id,
                    estimate=unit.estimate,
                    priority=self.priority,
                    full=getattr(self.job, "kind", "") == "full",
                )
                if wait:
                    leases.release(
                        self.lease,
                        not_before=timezone.now() + timedelta(seconds=wait),
                        current_step=f"waiting for the tenant's share of points ({unit.key})"[:200],
                    )
                    return SliceOutcome("requeue", wait, "fair share used")
                admission = getattr(self.engine.client, "admission", None)
                if admission is not None and self.pool:
                    # The unit's requests draw on what was just reserved for it.
                    admission.fund(self.pool, unit.estimate)
                result = self._run_unit(unit)
                points, self.unrecorded = self.unrecorded, 0
                self.engine.commit(unit, result, points)
                units += 1
                self._progress()
        except LeaseLost:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a state (the map)
            return self._failed(exc)
        finally:
            self._settle(0)
            self.engine.close()

    def _run_unit(self, unit: Unit) -> Any:
        estimate, refreshed = unit.estimate, False
        provider = getattr(self.engine.client, "token_provider", None)
        while True:
            try:
                try:
                    result = self.engine.run(unit)
                finally:
                    self._settle(estimate)
                    estimate = 0  # a second run spends without a reservation: settled as extra
            except ApiUnauthorized:
                if provider is None:
                    raise  # a legacy credential: nothing to refresh
                # First 401: refresh once (single-flight) and run the unit again. A 401 again
                # with the fresh token: the provider marks the grant needs_reauth, the admins
                # are told once, and SiteNeedsReauthorization goes to the map.
                provider.unauthorized()
                if refreshed:
                    raise
                refreshed = True
                continue
            if refreshed:
                provider.confirmed()
            return result

    def _settle(self, estimate: int) -> None:
        """Correct the unit's reservation to what the client really spent since the last call."""
        client = self.engine.client
        points = client.ledger.take() if client is not None else 0
        admission = getattr(client, "admission", None)
        extra = sum(admission.close_unit().values()) if admission is not None else 0
        if estimate or points or extra:
            fairness.settle(
                pool=self.pool,
                tenant_id=self.tenant_id,
                estimate=estimate,
                actual=points,
                extra=extra,
                priority=self.priority,
            )
        self.unrecorded += points

    def _progress(self) -> None:
        # "N transient failures in a row": a committed unit is progress and resets the count.
        if self.job.attempts:
            self.lease.update(attempts=0)
            self.job.attempts = 0

    # -- the failure map applied ---------------------------------------------------------------

    def _failed(self, exc: BaseException) -> SliceOutcome:
        failure = failures.classify(exc)
        if failure.action == failures.NOT_FOUND:
            failure = self._not_found(exc)
        if failure.action == failures.FAIL and failure.reason.startswith("internal error"):
            logger.exception("%s %s failed", self.job._meta.verbose_name, self.job.pk)
        else:
            logger.warning("%s %s: %s", self.job._meta.verbose_name, self.job.pk, failure.reason)
        self._settle(0)
        fields: dict[str, Any] = {}
        if self.unrecorded:
            fields["points_spent"] = F("points_spent") + self.unrecorded
            self.unrecorded = 0
        status = self.lease.model.Status
        action, reason = failure.action, failure.reason
        if action == failures.KEY_UNAVAILABLE:
            # The tenant's own key is off: customer and staff are told once (an incident).
            from backups.protection.incidents import key_incident_open

            key_incident_open(site=self.engine.site, reason=reason, now=timezone.now())
        if action in (failures.WAIT, failures.NOT_READY, failures.KEY_UNAVAILABLE):
            leases.release(
                self.lease,
                not_before=timezone.now() + timedelta(seconds=failure.countdown),
                current_step=reason[:200],
                **fields,
            )
            state = "not_ready" if action == failures.NOT_READY else "requeue"
            return SliceOutcome(state, failure.countdown, reason)
        if action == failures.TRANSIENT:
            return self._transient(reason, fields)
        if action == failures.REAUTH:
            leases.finish(self.lease, status=status.PAUSED_NEEDS_REAUTH, reason=reason, **fields)
            return SliceOutcome("paused", reason=reason)
        if action == failures.STOP:
            leases.finish(self.lease, status=status.CANCELLED, reason=reason, **fields)
            return SliceOutcome("cancelled", reason=reason)
        finished = leases.finish(self.lease, status=status.FAILED, reason=reason, **fields)
        if finished and action == SITE_GONE:
            _mark_site_disconnected(self.engine.site, reason)
        return SliceOutcome("failed", reason=reason)

    def _not_found(self, exc: BaseException) -> failures.Failure:
        """404: the site is gone when its gateway no longer serves it; else an object vanished
        between two requests, which the next attempt sees (transient)."""
        if _site_gone(self.engine.client):
            cloud_id = self.engine.site.cloud_id
            return failures.Failure(
                SITE_GONE, f"site deleted: Atlassian no longer serves site {cloud_id} ({exc})"
            )
        return failures.Failure(failures.TRANSIENT, f"{type(exc).__name__}: {exc}")

    def _transient(self, reason: str, fields: dict[str, Any]) -> SliceOutcome:
        """Back off exponentially (capped at 5 minutes) and hand the job back, or fail it after
        ``BACKUPS_MAX_TRANSIENT_FAILURES`` in a row."""
        attempts = self.job.attempts + 1
        status = self.lease.model.Status
        if attempts >= conf.max_attempts():
            reason = f"gave up after {attempts} transient failures in a row; last: {reason}"
            leases.finish(
                self.lease, status=status.FAILED, reason=reason, attempts=attempts, **fields
            )
            return SliceOutcome("failed", reason=reason)
        countdown = min(300.0, 5.0 * 2 ** min(attempts, 6))
        leases.release(
            self.lease,
            attempts=attempts,
            not_before=timezone.now() + timedelta(seconds=countdown),
            status_reason=f"retrying after a transient failure ({attempts} in a row): {reason}"[
                :500
            ],
            **fields,
        )
        return SliceOutcome("requeue", countdown, reason)


SITE_GONE = "site_gone"


def run_task(task: Any, job_id: int, run: Callable[[int], SliceOutcome]) -> str:
    """The body of a job's Celery task (``task`` is bound): one slice, then re-queue the job
    with the countdown its outcome asks for."""
    outcome = run(int(job_id))
    countdown = outcome.requeue_in(redelivered=redelivered(task.request))
    if countdown is not None:
        task.apply_async((job_id,), countdown=countdown)
    return outcome.state


def redelivered(request: Any) -> bool:
    """Whether the broker delivered this task's message before (a worker died holding it)."""
    delivery = getattr(request, "delivery_info", None) or {}
    headers = getattr(request, "headers", None) or {}
    return bool(
        delivery.get("redelivered")
        or headers.get("redelivered")
        or getattr(request, "redelivered", False)
    )


def check_tenant(site: JiraSite) -> None:
    """Jobs of a suspended (or offboarded) tenant stop where they run, not only where they are
    enqueued: a job queued before the suspension ends here, with the reason."""
    tenant = Tenant.objects.only("status", "status_reason").get(pk=site.tenant_id)
    if tenant.status != Tenant.Status.ACTIVE:
        raise TenantNotActive(tenant.status, tenant.status_reason)


def _site_gone(client: Any) -> bool:
    if client is None:
        return False
    try:
        client.server_info()
    except ApiNotFound:
        return True
    except AtlassianError:
        return False
    return False


def _mark_site_disconnected(site: JiraSite, reason: str) -> None:
    try:
        site_set_status(
            site=site, status=JiraSite.Status.DISCONNECTED, reason=reason[:400], acting_user=None
        )
    except Exception:  # the job's own state is already written
        logger.exception("could not mark site %s disconnected", site.pk)


__all__ = ["Engine", "SliceOutcome", "Unit", "check_tenant", "redelivered", "run_slice", "run_task"]
