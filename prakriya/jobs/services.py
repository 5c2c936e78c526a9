from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from prakriya.jobs import registry
from prakriya.jobs.models import TERMINAL_STATES, Job, JobState
from prakriya.jobs.task_names import RUN_JOB

# Jobs that hold (or wait for) a worker: what the caps on active jobs count.
ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.INTERRUPTED)
# What a refusal suggests to wait before asking again: jobs end on their own time, so this is a
# polite pause, not a promise.
RETRY_AFTER_SECONDS = 60
# Namespaces of the PostgreSQL advisory locks that serialise the cap check per project and per
# person (any two constants; the second key is the row's id).
_LOCK_PROJECT, _LOCK_USER = 0x4A4F4250, 0x4A4F4255


class JobLimitReached(Exception):
    """Starting the job(s) would take the project or the person over their cap on jobs queued or
    running at once. The API answers 429 with Retry-After, the pages a 429 page; the message says
    which cap and what to do."""

    retry_after = RETRY_AFTER_SECONDS

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _send(job: Job) -> None:
    # By name: the tasks module imports the runner, which imports this module.
    from celery import current_app

    # The worker enforces these: at the soft limit the job is told to stop (and ends failed, its
    # clean-up run), at the hard limit its process is killed (prefork pool; see docs/jobs.md).
    soft, hard = registry.time_limits(job.kind)
    current_app.send_task(RUN_JOB, args=[job.pk], queue=job.queue, soft_time_limit=soft, time_limit=hard)


def _lock_for_cap(namespace: int, pk: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Held until the transaction ends, so the job rows it creates are committed (and
            # counted by the next request) before another request may count.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [namespace, pk & 0x7FFFFFFF])
    # SQLite: every write transaction is IMMEDIATE (settings.py), which serialises writers already.


def job_capacity_check(*, project: models.Model | None, user, adding: int = 1) -> None:
    """Raises JobLimitReached unless `adding` more jobs fit under the project's and the person's
    caps on active jobs (PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT / _PER_USER; 0 turns a cap off).
    Call it inside the transaction that creates the jobs: on PostgreSQL it takes advisory locks
    on the project and the person (always in that order), so two requests cannot both take the
    last place; on SQLite writers are serialised by IMMEDIATE transactions."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("job_capacity_check must run inside the transaction that creates the jobs")
    project_cap = settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT
    user_cap = settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_USER
    adding_text = f" and this would add {adding}" if adding > 1 else ""
    if project is not None and project_cap:
        _lock_for_cap(_LOCK_PROJECT, project.pk)
        active = Job.objects.filter(project=project, state__in=ACTIVE_STATES).count()
        if active + adding > project_cap:
            raise JobLimitReached(
                f"This project has {active} jobs queued or running{adding_text}; a project may have at most "
                f"{project_cap} at once, so that every project gets its turn on the workers. Start it again "
                "once some of them have finished, or cancel some."
            )
    if user is not None and getattr(user, "pk", None) is not None and user_cap:
        _lock_for_cap(_LOCK_USER, user.pk)
        active = Job.objects.filter(created_by=user, state__in=ACTIVE_STATES).count()
        if active + adding > user_cap:
            raise JobLimitReached(
                f"You have {active} jobs queued or running{adding_text}; one person may have at most {user_cap} "
                "at once, so that everyone gets a turn on the workers. Start it again once some of them have "
                "finished, or cancel some."
            )


def job_enqueue(
    *,
    kind: str,
    project: models.Model | None = None,
    target: models.Model | None = None,
    params: dict[str, Any] | None = None,
    created_by=None,
    idempotency_key: str | None = None,
    max_attempts: int | None = None,
    system: bool = False,
) -> Job:
    """Write the job row, then send the message once the row is committed. With an
    idempotency key, asking twice returns the first job instead of running the work twice.

    A job someone asks for is held to the caps on active jobs (JobLimitReached). A job the
    platform starts by itself as the follow-up of work it already accepted (`system=True`: the
    profile of a version just written, the re-profiles after a split) counts towards the caps but
    is never refused, or a flow would stop half-way."""
    job_kind = registry.get(kind)
    if idempotency_key:
        existing = Job.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            if not system:
                job_capacity_check(project=project, user=created_by)
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
