"""The sweeper: jobs whose worker died or whose message the broker lost are put back to work, and
the message it sends really reaches the broker and a real worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from prakriya.jobs.models import TERMINAL_STATES, Job, JobState
from prakriya.jobs.sweeper import jobs_sweep
from prakriya.jobs.tasks import sweep_jobs
from projects import services
from projects.models import TimelineEvent
from tests.fixtures_worker import broker_purge, broker_queue_length, wait_for
from tests.jobs import fast_password_hashing  # noqa: F401 - autouse

pytestmark = pytest.mark.django_db(transaction=True)


def _export(project, engineer) -> Job:
    with transaction.atomic():
        return services.project_export_start(project=project, actor=engineer)


def _as_if_its_worker_died(job: Job, *, attempts: int = 1, silent_for: timedelta = timedelta(minutes=5)) -> None:
    """The state a SIGKILLed worker leaves behind (the real crash is in test_worker_crash.py)."""
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, attempts=attempts, run_token="dead-worker", progress=40.0,
        started_at=now - silent_for, heartbeat_at=now - silent_for,
    )


def _finished(job: Job):
    def check():
        current = Job.objects.get(pk=job.pk)
        return current if current.state in TERMINAL_STATES else None

    return check


@pytest.mark.worker
def test_running_job_with_a_stale_heartbeat_is_interrupted_requeued_and_finished_by_a_worker(
    start_worker, project, engineer
):
    job = _export(project, engineer)
    broker_purge()  # the first attempt's message went down with its worker
    _as_if_its_worker_died(job)

    report = jobs_sweep(stale_after=timedelta(seconds=30))

    assert report.interrupted == [job.pk] and report.dead == [] and report.requeued == []
    interrupted = Job.objects.get(pk=job.pk)
    assert interrupted.state == JobState.INTERRUPTED
    assert "attempt 1 interrupted (no heartbeat)" in interrupted.log
    assert interrupted.enqueued_at > timezone.now() - timedelta(seconds=30)
    assert broker_queue_length("export") == 1  # the new message is in the broker

    worker = start_worker()
    done = wait_for(_finished(job), timeout=30, what="the re-enqueued job to finish", workers=[worker])

    assert done.state == JobState.SUCCEEDED, done.message
    assert done.attempts == 2
    assert done.progress == 100.0
    assert done.run_token != "dead-worker"
    assert TimelineEvent.objects.filter(project=project, verb="exported").count() == 1


def test_running_job_with_a_stale_heartbeat_at_max_attempts_is_dead(project, engineer):
    job = _export(project, engineer)
    _as_if_its_worker_died(job, attempts=3)

    report = jobs_sweep(stale_after=timedelta(seconds=30))

    assert report.dead == [job.pk] and report.interrupted == [] and report.requeued == []
    dead = Job.objects.get(pk=job.pk)
    assert dead.state == JobState.DEAD
    assert dead.message == "Worker lost 3 times; giving up"
    assert dead.finished_at is not None


def test_sweeper_leaves_live_and_recent_jobs_alone(project, engineer):
    running = _export(project, engineer)
    _as_if_its_worker_died(running, silent_for=timedelta(seconds=1))  # heartbeat still fresh
    queued = _export(project, engineer)  # its message is on its way

    report = jobs_sweep(stale_after=timedelta(seconds=30), requeue_after=timedelta(seconds=30))

    assert report.interrupted == report.dead == report.requeued == []
    assert Job.objects.get(pk=running.pk).state == JobState.RUNNING
    assert Job.objects.get(pk=queued.pk).state == JobState.QUEUED


@pytest.mark.worker
def test_queued_job_whose_message_was_lost_is_requeued_and_run(start_worker, project, engineer):
    job = _export(project, engineer)
    assert broker_queue_length("export") == 1
    broker_purge()  # the broker lost the message (e.g. Redis restarted without persistence)
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now() - timedelta(minutes=10))

    report = jobs_sweep(requeue_after=timedelta(minutes=5))

    assert report.requeued == [job.pk] and report.interrupted == [] and report.dead == []
    assert broker_queue_length("export") == 1
    # Sweeping again right away does not send a second message: enqueued_at was refreshed.
    assert jobs_sweep(requeue_after=timedelta(minutes=5)).requeued == []

    worker = start_worker()
    done = wait_for(_finished(job), timeout=30, what="the requeued job to finish", workers=[worker])

    assert done.state == JobState.SUCCEEDED, done.message
    assert done.attempts == 1
    assert TimelineEvent.objects.filter(project=project, verb="exported").count() == 1


@pytest.mark.worker
def test_periodic_sweep_task_runs_in_the_worker_and_recovers_a_lost_job(start_worker, project, engineer):
    """The beat-scheduled task, sent by name through the broker, with the worker's own settings
    (PRAKRIYA_JOB_STALE_SECONDS=5 in tests/fixtures_worker.py)."""
    job = _export(project, engineer)
    broker_purge()
    _as_if_its_worker_died(job, silent_for=timedelta(seconds=60))
    worker = start_worker()

    sweep_jobs.apply_async()

    done = wait_for(_finished(job), timeout=30, what="the swept job to finish", workers=[worker])
    assert done.state == JobState.SUCCEEDED, done.message
    assert done.attempts == 2
    assert "interrupted (no heartbeat)" in done.log
    worker.wait_for_log(r"Task prakriya\.jobs\.sweep\[[0-9a-f-]+\] succeeded", timeout=5)
