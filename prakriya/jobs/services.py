from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from prakriya.jobs import registry
from prakriya.jobs.models import TERMINAL_STATES, Job, JobState


def _send(job: Job) -> None:
    # Imported here: tasks import the runner, which imports this module.
    from prakriya.jobs.tasks import run_job

    run_job.apply_async(args=[job.pk], queue=job.queue)


def job_enqueue(
    *,
    kind: str,
    project: models.Model | None = None,
    target: models.Model | None = None,
    params: dict[str, Any] | None = None,
    created_by=None,
    idempotency_key: str | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Write the job row, then send the message once the row is committed. With an
    idempotency key, asking twice returns the first job instead of running the work twice."""
    from django.conf import settings

    job_kind = registry.get(kind)
    if idempotency_key:
        existing = Job.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=job_kind.name,
                queue=job_kind.queue,
                project=project,
                target_type=ContentType.objects.get_for_model(target) if target is not None else None,
                target_id=target.pk if target is not None else None,
                params=params or {},
                created_by=created_by,
                idempotency_key=idempotency_key,
                max_attempts=max_attempts or settings.PRAKRIYA_JOB_MAX_ATTEMPTS,
                enqueued_at=timezone.now(),
                message="Waiting for a worker",
            )
    except IntegrityError:
        # Lost a race with an identical request: the other one's job is the job.
        return Job.objects.get(idempotency_key=idempotency_key)
    # robust: a broker that is down must not fail the request; the sweeper re-sends queued jobs.
    transaction.on_commit(lambda: _send(job), robust=True)
    return job


def job_ended_unrun(*, job: Job) -> None:
    """Call when a job is put in a final state without its work having run to an end (see
    JobKind.on_ended_unrun): the kind's clean-up runs once the change is committed."""
    try:
        hook = registry.get(job.kind).on_ended_unrun
    except LookupError:  # a kind no longer registered: nothing to tidy up
        return
    if hook is not None:
        transaction.on_commit(lambda: hook(job), robust=True)


def job_requeue(*, job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now())
    transaction.on_commit(lambda: _send(job), robust=True)


@transaction.atomic
def job_cancel(*, job: Job) -> Job:
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.state in TERMINAL_STATES:
        return job
    if job.state == JobState.RUNNING:
        # The worker notices at its next progress report and stops.
        job.cancel_requested = True
        job.save(update_fields=["cancel_requested"])
    else:
        job.state = JobState.CANCELLED
        job.finished_at = timezone.now()
        job.message = "Cancelled before it started"
        job.save(update_fields=["state", "finished_at", "message"])
        job_ended_unrun(job=job)
    return job
