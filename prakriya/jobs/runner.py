"""Runs one job inside a worker: claim it, run its kind's function with a context that reports
progress and heartbeats, then complete it exactly once. Plain Python, tested without Celery."""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone

from prakriya.jobs import registry
from prakriya.jobs.context import JobCancelled, JobContext, JobOutOfTime, LostClaim
from prakriya.jobs.messages import hard_limit_message, out_of_time_message
from prakriya.jobs.models import TERMINAL_STATES, Job, JobState
from prakriya.jobs.services import job_ended_unrun

logger = logging.getLogger(__name__)


def _ran_out_of_time(exc: BaseException) -> bool:
    """The failure is the time limit, however the work wrapped it (raise … from, or raised while
    handling it in a clean-up)."""
    from celery.exceptions import SoftTimeLimitExceeded

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, JobOutOfTime | SoftTimeLimitExceeded):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class _Heartbeat(threading.Thread):
    """Keeps the heartbeat fresh during long steps that report no progress."""

    def __init__(self, job_id: int, run_token: str, interval: float) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.job_id, self.run_token, self.interval = job_id, run_token, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    Job.objects.filter(
                        pk=self.job_id, run_token=self.run_token, state=JobState.RUNNING
                    ).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    # A dropped connection must not end the heartbeat for the rest of the job, or
                    # the sweeper would take a live job away from its worker: reconnect next beat.
                    logger.warning("heartbeat of job %s failed; retrying", self.job_id, exc_info=True)
                    connection.close_if_unusable_or_obsolete()
        finally:
            connection.close()


def _claim(job_id: int, time_limits: tuple[int, int] | None) -> tuple[Job, str, int] | None:
    stale_before = timezone.now() - timedelta(seconds=settings.PRAKRIYA_JOB_STALE_SECONDS)
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state in TERMINAL_STATES:
            return None
        if job.state == JobState.RUNNING and job.heartbeat_at and job.heartbeat_at >= stale_before:
            return None  # a live worker has it; this message is a duplicate
        if job.hit_hard_limit(timezone.now()):
            # Its last attempt was killed at the hard limit: starting it again would only use up
            # another worker for as long.
            job.state, job.finished_at, job.message = JobState.FAILED, timezone.now(), hard_limit_message()
            job.save(update_fields=["state", "finished_at", "message"])
            job_ended_unrun(job=job)
            return None
        if job.cancel_requested:
            job.state, job.finished_at, job.message = JobState.CANCELLED, timezone.now(), "Cancelled"
            job.save(update_fields=["state", "finished_at", "message"])
            job_ended_unrun(job=job)
            return None
        if job.attempts >= job.max_attempts:
            job.state, job.finished_at = JobState.DEAD, timezone.now()
            job.message = f"Gave up after {job.attempts} attempts"
            job.save(update_fields=["state", "finished_at", "message"])
            job_ended_unrun(job=job)
            return None
        token = str(uuid.uuid4())
        now = timezone.now()
        resumed = job.attempts > 0
        # The limits the message was sent with (the worker enforces those), else the kind's now.
        soft, hard = time_limits or registry.time_limits(job.kind)
        job.state, job.run_token, job.heartbeat_at = JobState.RUNNING, token, now
        job.deadline_at = now + timedelta(seconds=hard)
        job.attempts += 1
        job.started_at = job.started_at or now
        job.message = "Restarted after an interruption" if resumed else "Started"
        job.log += f"[{now:%H:%M:%S}] attempt {job.attempts} started\n"
        job.save()
        return job, token, soft


def _finish(job_id: int, token: str, **fields: Any) -> None:
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.run_token != token or job.state != JobState.RUNNING:
            raise LostClaim(f"job {job_id} is no longer ours")
        for name, value in fields.items():
            setattr(job, name, value)
        job.finished_at = timezone.now()
        job.save()


def job_execute(job_id: int, *, time_limits: tuple[int, int] | None = None) -> str | None:
    """Returns the state the job ended in, or None when this call had nothing to do.
    `time_limits` (soft, hard) are those the Celery message carries; default the kind's."""
    close_old_connections()
    claimed = _claim(job_id, time_limits)
    if claimed is None:
        return None
    job, token, soft_limit = claimed
    heartbeat = _Heartbeat(job.pk, token, settings.PRAKRIYA_JOB_HEARTBEAT_SECONDS)
    heartbeat.start()
    context = JobContext(job, token, soft_limit=soft_limit)
    try:
        # Looked up inside the try: an unknown kind fails the job at once instead of leaving it
        # 'running' without a heartbeat until the sweeper gives up on it as a lost worker.
        kind = registry.get(job.kind)
        result = kind.run(context)
        with transaction.atomic():
            locked = Job.objects.select_for_update().get(pk=job.pk)
            if locked.run_token != token or locked.state != JobState.RUNNING:
                raise LostClaim(f"job {job.pk} is no longer ours")
            if kind.on_success is not None:
                kind.on_success(locked, result)
            locked.state, locked.progress, locked.result = JobState.SUCCEEDED, 100.0, result
            locked.message, locked.finished_at = "Done", timezone.now()
            locked.save()
        return JobState.SUCCEEDED
    except LostClaim:
        logger.warning("job %s was taken over by another worker; dropping this attempt", job_id)
        return None
    except JobCancelled:
        try:
            _finish(job.pk, token, state=JobState.CANCELLED, message="Cancelled")
        except LostClaim:
            return None
        return JobState.CANCELLED
    except Exception as exc:  # noqa: BLE001 - any failure of the work is recorded on the job
        out_of_time = _ran_out_of_time(exc)
        if out_of_time:
            logger.warning("job %s ran out of time (%s s)", job_id, soft_limit)
            message = out_of_time_message(soft_limit)
            tail = f"[{timezone.now():%H:%M:%S}] {message}\n"
        else:
            logger.exception("job %s failed", job_id)
            message = str(exc)[:500] or type(exc).__name__
            tail = traceback.format_exc(limit=8)
        try:
            _finish(
                job.pk,
                token,
                state=JobState.FAILED,
                message=message,
                log=Job.objects.get(pk=job.pk).log + tail,
            )
        except LostClaim:
            return None
        return JobState.FAILED
    finally:
        heartbeat.stopped.set()
        heartbeat.join(timeout=5)
