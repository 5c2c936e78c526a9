"""The runner and the job services as plain functions: job_execute(job.id) is called in the test
process exactly as the Celery task calls it in a worker. Rows are committed (transaction=True)
because the runner's heartbeat thread uses its own database connection."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from prakriya.jobs import registry
from prakriya.jobs.context import JobContext, LostClaim
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from prakriya.jobs.services import job_cancel, job_enqueue
from projects import services
from projects.export import SECTIONS, export_path
from projects.models import TimelineEvent
from tests.jobs import fast_password_hashing  # noqa: F401 - autouse

pytestmark = pytest.mark.django_db(transaction=True)
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (concurrent connections, pg_terminate_backend)"
)

# --- Test-only job kinds: scaffolding that drives the real runner through its branches. --------

FAIL = "tests.jobs.fail"
COUNT = "tests.jobs.count"
CANCEL_MIDWAY = "tests.jobs.cancel_midway"
DUPLICATE = "tests.jobs.duplicate"
TAKEOVER = "tests.jobs.takeover"
TAKEOVER_SILENT = "tests.jobs.takeover_silent"
SURVIVE_DB_DROP = "tests.jobs.survive_db_drop"

calls: dict[str, list] = {}


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()
    yield
    calls.clear()


def _note(name: str, value=None) -> list:
    calls.setdefault(name, []).append(value)
    return calls[name]


def _fail(ctx: JobContext):
    ctx.progress(20, "about to fail")
    raise RuntimeError("disk on fire")


def _count(ctx: JobContext):
    _note(COUNT, ctx.run_token)
    return {"ran": True}


def _cancel_midway(ctx: JobContext):
    ctx.progress(10, "step 1")
    # A user presses "cancel" while the job runs (the web request calls the same service).
    job_cancel(job=ctx.job)
    _note("state_after_cancel_request", Job.objects.values_list("state", "cancel_requested").get(pk=ctx.job.pk))
    ctx.progress(50, "step 2")
    _note("unreachable")
    return {}


def _duplicate(ctx: JobContext):
    ctx.progress(10, "working")
    # The broker delivers the same message again (e.g. its visibility timeout passed) while this
    # worker is alive: another worker's job_execute must leave the job alone.
    _note("duplicate_outcome", job_execute(ctx.job.pk))
    ctx.progress(60, "still working")
    return {"run_token": ctx.run_token}


def _takeover(ctx: JobContext, *, report_after_wakeup: bool):
    attempt = _note("takeover_tokens", ctx.run_token)
    if len(attempt) == 1:
        # This worker hangs: its heartbeat stops, so to everyone else it looks dead...
        Job.objects.filter(pk=ctx.job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
        # ...and another worker picks the job up from a redelivered message and completes it.
        _note("takeover_inner_outcome", job_execute(ctx.job.pk))
        # Then the first worker wakes up and carries on as if nothing happened.
        if report_after_wakeup:
            ctx.progress(90, "late progress from the old worker")
            _note("old_worker_kept_going")
    return {"attempt": len(attempt), "run_token": ctx.run_token}


def _record_done(job: Job, result: dict) -> None:
    services.timeline_record(project=job.project, actor=None, verb="test-done", text="done",
                             data={"attempt": result["attempt"]})


def _survive_db_drop(ctx: JobContext):
    def beat():
        return Job.objects.values_list("heartbeat_at", flat=True).get(pk=ctx.job.pk)

    claimed_at = beat()
    _wait(lambda: beat() > claimed_at, timeout=5, what="a first heartbeat")
    # Kill every other server connection to the test database: the heartbeat thread's one.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        killed = sum(1 for (ok,) in cursor.fetchall() if ok)
    dropped_at = timezone.now()
    _wait(lambda: beat() > dropped_at, timeout=6, what="a heartbeat after the connection was dropped")
    return {"killed_connections": killed}


def _wait(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


for _kind in (
    registry.JobKind(name=FAIL, label="fails", queue="default", run=_fail),
    registry.JobKind(name=COUNT, label="counts its runs", queue="default", run=_count),
    registry.JobKind(name=CANCEL_MIDWAY, label="cancelled midway", queue="default", run=_cancel_midway),
    registry.JobKind(name=DUPLICATE, label="sees a duplicate", queue="default", run=_duplicate),
    registry.JobKind(name=TAKEOVER, label="taken over", queue="default",
                     run=lambda ctx: _takeover(ctx, report_after_wakeup=True), on_success=_record_done),
    registry.JobKind(name=TAKEOVER_SILENT, label="taken over, silent", queue="default",
                     run=lambda ctx: _takeover(ctx, report_after_wakeup=False), on_success=_record_done),
    registry.JobKind(name=SURVIVE_DB_DROP, label="loses its heartbeat connection", queue="default",
                     run=_survive_db_drop),
):
    registry.register(_kind)


def _reload(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


def _exported(project):
    return TimelineEvent.objects.filter(project=project, verb="exported")


# --- The success path -------------------------------------------------------------------------


def test_export_job_succeeds_with_full_progress_result_and_one_timeline_event(project, engineer, settings):
    job = services.project_export_start(project=project, actor=engineer)
    assert job.state == JobState.QUEUED and job.queue == "export"

    assert job_execute(job.pk) == JobState.SUCCEEDED

    job = _reload(job)
    assert job.state == JobState.SUCCEEDED
    assert job.progress == 100.0
    assert job.attempts == 1
    assert job.message == "Done"
    assert job.finished_at is not None and job.started_at is not None
    assert job.result["sections"] == [name for name, _ in SECTIONS]
    assert job.result["file"] == f"export-{job.pk}.json"
    path = export_path(project.slug, job.pk)
    assert path.is_relative_to(settings.PRAKRIYA_EXPORT_DIR)
    document = json.loads(path.read_text())
    assert {name for name, _ in SECTIONS} <= set(document)
    assert document["charter"]["slug"] == project.slug
    assert job.result["bytes"] == path.stat().st_size
    assert "attempt 1 started" in job.log and f"exporting {project.slug}" in job.log
    [event] = _exported(project)
    assert event.data == {"job": job.pk, "bytes": job.result["bytes"]}
    assert event.actor == engineer


def test_running_a_finished_job_again_does_nothing(project, engineer):
    job = services.project_export_start(project=project, actor=engineer)
    job_execute(job.pk)
    before = _reload(job)
    mtime = export_path(project.slug, job.pk).stat().st_mtime_ns

    assert job_execute(job.pk) is None

    after = _reload(job)
    assert (after.state, after.attempts, after.run_token, after.finished_at, after.result, after.log) == (
        before.state, before.attempts, before.run_token, before.finished_at, before.result, before.log)
    assert export_path(project.slug, job.pk).stat().st_mtime_ns == mtime
    assert _exported(project).count() == 1


def test_job_execute_on_a_missing_job_does_nothing():
    assert job_execute(987_654_321) is None


# --- Failure, attempts, unknown kinds ---------------------------------------------------------


def test_job_whose_work_raises_is_failed_with_the_message():
    job = job_enqueue(kind=FAIL)

    assert job_execute(job.pk) == JobState.FAILED

    job = _reload(job)
    assert job.state == JobState.FAILED
    assert job.message == "disk on fire"
    assert job.progress == 20.0
    assert "RuntimeError: disk on fire" in job.log
    assert job.finished_at is not None
    # Failed is final: a redelivered message does not run the work again.
    assert job_execute(job.pk) is None
    assert _reload(job).attempts == 1


def test_job_out_of_attempts_is_dead_and_its_work_does_not_run():
    job = job_enqueue(kind=COUNT, max_attempts=2)
    # Its worker was lost twice: the sweeper left it interrupted after the second attempt.
    Job.objects.filter(pk=job.pk).update(state=JobState.INTERRUPTED, attempts=2, run_token="lost")

    assert job_execute(job.pk) is None

    job = _reload(job)
    assert job.state == JobState.DEAD
    assert job.message == "Gave up after 2 attempts"
    assert job.finished_at is not None
    assert COUNT not in calls


def test_interrupted_job_with_attempts_left_runs_again_as_a_restart():
    job = job_enqueue(kind=COUNT, max_attempts=3)
    Job.objects.filter(pk=job.pk).update(state=JobState.INTERRUPTED, attempts=1, run_token="lost")

    assert job_execute(job.pk) == JobState.SUCCEEDED

    job = _reload(job)
    assert job.attempts == 2
    assert calls[COUNT] == [job.run_token] and job.run_token != "lost"
    assert "attempt 2 started" in job.log


def test_job_of_an_unknown_kind_fails_at_once_instead_of_hanging_as_running():
    job = job_enqueue(kind=COUNT)
    Job.objects.filter(pk=job.pk).update(kind="tests.jobs.removed_in_this_release")

    assert job_execute(job.pk) == JobState.FAILED

    job = _reload(job)
    assert job.state == JobState.FAILED
    assert "no job kind named 'tests.jobs.removed_in_this_release'" in job.message


# --- Cancellation -------------------------------------------------------------------------------


def test_cancel_before_start_cancels_and_the_work_never_runs():
    job = job_enqueue(kind=COUNT)

    cancelled = job_cancel(job=job)

    assert cancelled.state == JobState.CANCELLED
    assert cancelled.message == "Cancelled before it started"
    assert job_execute(job.pk) is None  # its message still arrives
    assert _reload(job).state == JobState.CANCELLED
    assert _reload(job).attempts == 0
    assert COUNT not in calls


def test_cancel_requested_while_running_stops_the_job_at_its_next_progress_report():
    job = job_enqueue(kind=CANCEL_MIDWAY)

    assert job_execute(job.pk) == JobState.CANCELLED

    assert calls["state_after_cancel_request"] == [(JobState.RUNNING, True)]
    assert "unreachable" not in calls
    job = _reload(job)
    assert job.state == JobState.CANCELLED
    assert job.message == "Cancelled"
    assert job.finished_at is not None
    # Cancelling a finished job changes nothing.
    assert job_cancel(job=job).state == JobState.CANCELLED


def test_cancel_requested_for_a_job_whose_worker_died_cancels_it_on_redelivery():
    job = job_enqueue(kind=COUNT)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, attempts=1, run_token="dead-worker", cancel_requested=True,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )

    assert job_execute(job.pk) is None

    assert _reload(job).state == JobState.CANCELLED
    assert COUNT not in calls


# --- Idempotency, duplicates and take-overs --------------------------------------------------


def test_idempotency_key_returns_the_same_job(project, engineer):
    from projects.kinds import PROJECT_EXPORT

    first = job_enqueue(kind=PROJECT_EXPORT, project=project, created_by=engineer, idempotency_key="export:1")
    second = job_enqueue(kind=PROJECT_EXPORT, project=project, created_by=engineer, idempotency_key="export:1")

    assert second.pk == first.pk
    assert Job.objects.filter(idempotency_key="export:1").count() == 1
    assert job_enqueue(kind=PROJECT_EXPORT, project=project, idempotency_key="export:2").pk != first.pk


@postgres_only
def test_concurrent_requests_with_one_idempotency_key_make_one_job(project):
    from projects.kinds import PROJECT_EXPORT

    barrier = threading.Barrier(4)
    ids: list[int] = []

    def request():
        try:
            barrier.wait()
            ids.append(job_enqueue(kind=PROJECT_EXPORT, project=project, idempotency_key="burst").pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert len(ids) == 4 and len(set(ids)) == 1
    assert Job.objects.filter(idempotency_key="burst").count() == 1


def test_duplicate_message_while_the_heartbeat_is_fresh_is_dropped():
    job = job_enqueue(kind=DUPLICATE)

    assert job_execute(job.pk) == JobState.SUCCEEDED

    assert calls["duplicate_outcome"] == [None]
    job = _reload(job)
    assert job.attempts == 1
    assert job.result == {"run_token": job.run_token}


@pytest.mark.parametrize("kind", [TAKEOVER, TAKEOVER_SILENT], ids=["old-worker-reports", "old-worker-returns"])
def test_stale_claim_is_taken_over_and_the_old_worker_can_no_longer_complete(kind, project, settings):
    settings.PRAKRIYA_JOB_HEARTBEAT_SECONDS = 60  # only the test decides when a heartbeat goes stale
    job = job_enqueue(kind=kind, project=project)

    outer = job_execute(job.pk)

    assert calls["takeover_inner_outcome"] == [JobState.SUCCEEDED]
    assert outer is None  # the old worker's attempt is dropped: LostClaim
    assert "old_worker_kept_going" not in calls
    old_token, new_token = calls["takeover_tokens"]
    job = _reload(job)
    assert job.state == JobState.SUCCEEDED
    assert job.attempts == 2
    assert job.run_token == new_token != old_token
    assert job.result == {"attempt": 2, "run_token": new_token}
    # The side effect of success happened exactly once, for the attempt that owns the job.
    [event] = TimelineEvent.objects.filter(project=project, verb="test-done")
    assert event.data == {"attempt": 2}

    # The old token can neither report nor log any more.
    old = JobContext(job, old_token)
    with pytest.raises(LostClaim):
        old.progress(10, "too late")
    old.log("too late")
    job_after = _reload(job)
    assert "too late" not in job_after.log and job_after.progress == 100.0


@postgres_only
def test_heartbeat_survives_a_dropped_database_connection(settings):
    settings.PRAKRIYA_JOB_HEARTBEAT_SECONDS = 1
    job = job_enqueue(kind=SURVIVE_DB_DROP)

    assert job_execute(job.pk) == JobState.SUCCEEDED, _reload(job).message

    assert _reload(job).result["killed_connections"] >= 1
