"""Time limits through a live Celery worker of the kind a deployment runs (prefork pool): the limits
travel with the message, the worker interrupts a job at its soft limit, the job ends failed with a
message that says it ran out of time, and the worker goes on to run the next job."""

from __future__ import annotations

import pytest
from django.db import transaction

from prakriya.jobs.models import TERMINAL_STATES, Job, JobState
from projects import services
from projects.models import TimelineEvent
from tests.fixtures_worker import wait_for
from tests.jobs import fast_password_hashing  # noqa: F401 - autouse

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _export(project, actor, *, pause_seconds: float) -> Job:
    with transaction.atomic():
        return services.project_export_start(project=project, actor=actor, pause_seconds=pause_seconds)


def _ended(job: Job, worker) -> Job:
    def check():
        current = Job.objects.get(pk=job.pk)
        return current if current.state in TERMINAL_STATES else None

    return wait_for(check, timeout=60, what=f"job {job.pk} to end", workers=[worker])


def test_a_job_past_its_soft_limit_ends_failed_and_the_next_job_runs(start_worker, settings, project, engineer, lead):
    worker = start_worker(pool="prefork")
    # An export pausing 5 s between sections, held to one second.
    settings.PRAKRIYA_JOB_TIME_LIMITS = {"project_export": 1}
    slow = _export(project, engineer, pause_seconds=5)

    slow = _ended(slow, worker)

    assert slow.state == JobState.FAILED, worker.describe()
    assert slow.message == "Ran out of time: stopped at its time limit of 1 s"
    assert "Ran out of time" in slow.log
    # Celery's own soft limit stopped it (in the middle of a pause, before the job's next report).
    worker.wait_for_log(r"Soft time limit \(1s\) exceeded", timeout=10)
    assert not TimelineEvent.objects.filter(project=project, verb="exported").exists()

    settings.PRAKRIYA_JOB_TIME_LIMITS = {}
    quick = _ended(_export(project, lead, pause_seconds=0), worker)

    assert quick.state == JobState.SUCCEEDED, worker.describe()
    assert TimelineEvent.objects.filter(project=project, verb="exported").count() == 1
