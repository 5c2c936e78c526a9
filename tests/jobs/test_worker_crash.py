"""Jobs through live Celery workers, including a worker SIGKILLed in the middle of a job.

Nothing is mocked: a real worker process (prefork-free `--pool solo`, so its main process runs the
task and the SIGKILL lands on the running job), PostgreSQL, Redis with late acknowledgement and
a short visibility timeout (tests/fixtures_worker.py)."""

from __future__ import annotations

import json
import re
import signal
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from prakriya.jobs.models import TERMINAL_STATES, Job, JobState
from prakriya.jobs.sweeper import jobs_sweep
from projects import services
from projects.export import SECTIONS, export_path
from projects.models import TimelineEvent
from tests.fixtures_worker import (
    WORKER_STALE_SECONDS,
    WORKER_VISIBILITY_TIMEOUT,
    WorkerHandle,
    wait_for,
)
from tests.jobs import fast_password_hashing  # noqa: F401 - autouse

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _export(project, actor, *, pause_seconds: float) -> Job:
    # Committed here; the message is sent by on_commit, as in a web request.
    with transaction.atomic():
        return services.project_export_start(project=project, actor=actor, pause_seconds=pause_seconds)


def _job(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


def _finished(job: Job):
    def check():
        current = _job(job)
        return current if current.state in TERMINAL_STATES else None

    return check


def _exported(project):
    return TimelineEvent.objects.filter(project=project, verb="exported")


def _task_outcomes(worker: WorkerHandle) -> dict[str, str]:
    """task id -> the value the task returned, as the worker logged it."""
    return dict(re.findall(r"Task prakriya\.jobs\.run\[([0-9a-f-]+)\] succeeded in [0-9.e-]+s: (.+)", worker.log()))


def _assert_one_complete_export(job: Job, project) -> None:
    # The result names the file, not its path on the server; the download finds it by job id.
    assert job.result["file"] == f"export-{job.pk}.json"
    path = export_path(project.slug, job.pk)
    document = json.loads(path.read_text())
    assert document["format"] == "prakriya.project-export/1"
    for name, _ in SECTIONS:
        assert name in document, f"section {name} missing from the export"
    assert document["charter"]["slug"] == project.slug
    assert {m["username"] for m in document["members"]} == {"lead", "engineer", "annotator", "viewer"}
    # Only the finished file: no temporary file left behind by either attempt.
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    [event] = _exported(project)
    assert event.data["job"] == job.pk


def _wait_until_mid_job(job: Job, worker: WorkerHandle, *, min_progress: float) -> Job:
    def mid_way():
        current = _job(job)
        if current.state in TERMINAL_STATES:
            pytest.fail(f"job finished before the crash: {current.state} {current.message}\n{worker.describe()}")
        return current if current.state == JobState.RUNNING and current.progress >= min_progress else None

    return wait_for(mid_way, timeout=20, what=f"the job to run past {min_progress}%", workers=[worker])


def test_export_through_a_live_worker_completes_with_progress_100(start_worker, project, engineer):
    worker = start_worker()
    job = _export(project, engineer, pause_seconds=0.3)

    seen: set[float] = set()

    def finished():
        current = _job(job)
        seen.add(current.progress)
        return current if current.state in TERMINAL_STATES else None

    done = wait_for(finished, timeout=30, what="the export to finish", workers=[worker], interval=0.05)

    assert done.state == JobState.SUCCEEDED, f"{done.message}\n{done.log}"
    assert done.progress == 100.0
    assert done.attempts == 1
    assert done.message == "Done"
    assert any(0 < p < 100 for p in seen), f"no intermediate progress was visible: {sorted(seen)}"
    assert done.result["sections"] == [name for name, _ in SECTIONS]
    _assert_one_complete_export(done, project)
    assert list(_task_outcomes(worker).values()) == ["'succeeded'"]


def test_worker_killed_mid_export_is_recovered_by_the_sweeper_and_exports_exactly_once(
    start_worker, project, engineer
):
    first = start_worker()
    job = _export(project, engineer, pause_seconds=1.0)
    running = _wait_until_mid_job(job, first, min_progress=25)
    [original_message] = first.task_ids("received")

    first.kill()  # SIGKILL while the task runs: no ack, no cleanup, no last words
    assert first.process.returncode == -signal.SIGKILL

    def stale():
        current = _job(job)
        return current if current.heartbeat_at < timezone.now() - timedelta(seconds=2.5) else None

    lost = wait_for(stale, timeout=10, what="the dead worker's heartbeat to go stale", workers=[first])
    assert lost.state == JobState.RUNNING  # nobody has noticed yet
    assert lost.attempts == 1
    assert 25 <= lost.progress < 100
    assert not export_path(project.slug, job.pk).exists()
    assert not _exported(project).exists()

    report = jobs_sweep(stale_after=timedelta(seconds=2))
    assert report.interrupted == [job.pk]
    assert _job(job).state == JobState.INTERRUPTED

    # The killed worker's message is still unacknowledged in Redis. Start the new worker once its
    # visibility timeout has passed, so the broker redelivers it too: the new worker then gets
    # the same job twice (the sweeper's message and the original one).
    redelivery_due = running.started_at + timedelta(seconds=WORKER_VISIBILITY_TIMEOUT + 0.5)
    wait_for(lambda: timezone.now() > redelivery_due, timeout=10, what="the visibility timeout")
    second = start_worker()

    done = wait_for(_finished(job), timeout=30, what="the recovered export to finish", workers=[first, second])
    assert done.state == JobState.SUCCEEDED, f"{done.message}\n{done.log}"
    assert done.attempts == 2
    assert done.progress == 100.0
    assert "attempt 1 interrupted (no heartbeat)" in done.log and "attempt 2 started" in done.log

    # The redelivered original message arrives too, before or after the sweeper's: whichever comes
    # second is a no-op (the task returns None); so would any other duplicate.
    outcomes = wait_for(lambda: len(_task_outcomes(second)) >= 2 and _task_outcomes(second), timeout=15,
                        what="both messages to be processed by the new worker", workers=[second])
    assert original_message in outcomes, outcomes
    assert sorted(outcomes.values()) == ["'succeeded'", "None"], outcomes
    time.sleep(2)

    final = _job(job)
    assert (final.state, final.attempts, final.finished_at) == (JobState.SUCCEEDED, 2, done.finished_at)
    _assert_one_complete_export(final, project)


def test_worker_killed_mid_export_is_recovered_by_broker_redelivery_alone(start_worker, project, engineer):
    """No sweeper: late acknowledgement brings the message back after the visibility timeout, and
    the new worker takes the job over because the dead worker's heartbeat is stale."""
    first = start_worker()
    job = _export(project, engineer, pause_seconds=0.5)
    running = _wait_until_mid_job(job, first, min_progress=10)
    [original_message] = first.task_ids("received")
    first.kill()

    def takeover_possible():
        current = _job(job)
        now = timezone.now()
        return (current.heartbeat_at < now - timedelta(seconds=WORKER_STALE_SECONDS + 0.5)
                and now > running.started_at + timedelta(seconds=WORKER_VISIBILITY_TIMEOUT + 0.5))

    wait_for(takeover_possible, timeout=15, what="a stale heartbeat and a due redelivery", workers=[first])
    assert _job(job).state == JobState.RUNNING
    second = start_worker()

    done = wait_for(_finished(job), timeout=30, what="the redelivered export to finish", workers=[first, second])
    assert done.state == JobState.SUCCEEDED, f"{done.message}\n{done.log}"
    assert done.attempts == 2
    assert done.message == "Done"
    # The job's row says succeeded from inside the task; the worker logs the task's outcome once
    # the task has returned, a moment later.
    second.wait_for_log(rf"Task prakriya\.jobs\.run\[{original_message}\] succeeded", timeout=15)
    assert _task_outcomes(second) == {original_message: "'succeeded'"}
    _assert_one_complete_export(done, project)
