"""Fair use in the job kernel, as plain functions: time limits (the job's own stop watch, the
sweeper's and the claim's handling of a run killed at its hard limit) and the caps on active jobs
per project and per person (including two requests racing for the last place on PostgreSQL).
The same limits through a live Celery worker are in test_time_limits_worker.py."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from prakriya.jobs import registry
from prakriya.jobs.context import JobContext
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.runner import job_execute
from prakriya.jobs.services import JobLimitReached, job_capacity_check, job_enqueue
from prakriya.jobs.sweeper import jobs_sweep
from tests.jobs import fast_password_hashing  # noqa: F401 - autouse
from tests.matrix import signed_in

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = "tests.limits.slow"
QUICK = "tests.limits.quick"
OWN_LIMIT = "tests.limits.own_limit"
notes: dict[str, list] = {}


def _slow(ctx: JobContext):
    """Reports progress every 50 ms for far longer than any limit a test gives it; its clean-up
    must run however it is stopped."""
    try:
        for step in range(400):
            ctx.progress(step / 4, f"step {step}")
            time.sleep(0.05)
        return {"finished": True}
    finally:
        notes.setdefault("cleaned_up", []).append(ctx.job.pk)


def _quick(ctx: JobContext):
    return {"ran": True}


def _unrun(job: Job) -> None:
    notes.setdefault("ended_unrun", []).append((job.pk, job.state))


for _kind in (
    registry.JobKind(name=SLOW, label="slow", queue="default", run=_slow, on_ended_unrun=_unrun),
    registry.JobKind(name=QUICK, label="quick", queue="default", run=_quick),
    registry.JobKind(name=OWN_LIMIT, label="own limit", queue="default", run=_quick, time_limit=42),
):
    registry.register(_kind)


@pytest.fixture(autouse=True)
def _reset_notes():
    notes.clear()
    yield
    notes.clear()


def _queued(kind: str, *, project=None, user=None, system: bool = False) -> Job:
    with transaction.atomic():
        return job_enqueue(kind=kind, project=project, created_by=user, system=system)


# --- Time limits ---------------------------------------------------------------------------


def test_time_limits_come_from_the_kind_the_default_and_the_override(settings):
    settings.PRAKRIYA_JOB_TIME_LIMIT_SECONDS = 900
    settings.PRAKRIYA_JOB_TIME_LIMIT_GRACE_SECONDS = 30
    settings.PRAKRIYA_JOB_TIME_LIMITS = {QUICK: 5}
    assert registry.time_limits(SLOW) == (900, 930)
    assert registry.time_limits(OWN_LIMIT) == (42, 72)
    assert registry.time_limits(QUICK) == (5, 35)
    # The platform's own kinds carry theirs: training runs longer than an export.
    assert registry.time_limits("experiments_train")[0] == 7200
    assert registry.time_limits("project_export")[0] == 600


def test_a_job_past_its_soft_limit_ends_failed_with_its_clean_up_run(project, engineer):
    job = _queued(SLOW, project=project, user=engineer)
    started = time.monotonic()

    assert job_execute(job.pk, time_limits=(1, 10)) == JobState.FAILED

    assert time.monotonic() - started < 5
    job.refresh_from_db()
    assert job.message == "Ran out of time: stopped at its time limit of 1 s"
    assert "Ran out of time" in job.log and "Traceback" not in job.log
    assert notes["cleaned_up"] == [job.pk]
    # The attempt's hard deadline was written when it was claimed.
    assert job.deadline_at is not None and job.deadline_at - job.started_at <= timedelta(seconds=11)
    # Other jobs run as usual afterwards.
    other = _queued(QUICK, project=project, user=engineer)
    assert job_execute(other.pk) == JobState.SUCCEEDED


def _killed_at_its_hard_limit(job: Job, *, beat_before_deadline: timedelta) -> None:
    """The state a worker process killed by Celery's hard time limit leaves behind (its heartbeat
    thread died with it, moments before the deadline)."""
    now = timezone.now()
    deadline = now - timedelta(minutes=3)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, attempts=1, run_token="killed", started_at=deadline - timedelta(hours=1),
        deadline_at=deadline, heartbeat_at=deadline - beat_before_deadline,
    )


def test_the_sweeper_fails_a_job_killed_at_its_hard_limit_instead_of_running_it_again(project, engineer):
    job = _queued(SLOW, project=project, user=engineer)
    _killed_at_its_hard_limit(job, beat_before_deadline=timedelta(seconds=4))

    report = jobs_sweep()

    job.refresh_from_db()
    assert report.out_of_time == [job.pk] and report.interrupted == []
    assert job.state == JobState.FAILED and job.message.startswith("Ran out of time")
    assert job.attempts == 1  # not started again
    assert notes["ended_unrun"] == [(job.pk, JobState.FAILED)]  # its clean-up ran


def test_a_worker_lost_long_before_its_deadline_is_still_restarted(project, engineer):
    job = _queued(SLOW, project=project, user=engineer)
    _killed_at_its_hard_limit(job, beat_before_deadline=timedelta(minutes=30))

    report = jobs_sweep()

    job.refresh_from_db()
    assert report.interrupted == [job.pk] and report.out_of_time == []
    assert job.state == JobState.INTERRUPTED


def test_a_redelivered_message_of_a_job_killed_at_its_hard_limit_fails_it(project, engineer):
    job = _queued(SLOW, project=project, user=engineer)
    _killed_at_its_hard_limit(job, beat_before_deadline=timedelta(seconds=4))

    assert job_execute(job.pk) is None

    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.message.startswith("Ran out of time") and job.attempts == 1
    assert "cleaned_up" not in notes  # the work did not start again


# --- Caps on active jobs -------------------------------------------------------------------


def test_a_project_at_its_cap_refuses_another_job_until_one_ends(settings, project, engineer, lead):
    settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT = 2
    first = _queued(QUICK, project=project, user=engineer)
    _queued(QUICK, project=project, user=lead)

    with pytest.raises(JobLimitReached, match="This project has 2 jobs queued or running; a project may have at "
                                              "most 2 at once"):
        _queued(QUICK, project=project, user=lead)
    assert Job.objects.count() == 2

    assert job_execute(first.pk) == JobState.SUCCEEDED  # a finished job frees its place
    _queued(QUICK, project=project, user=lead)
    assert Job.objects.count() == 3


def test_a_person_at_their_cap_is_refused_in_every_project_while_others_are_not(
    settings, project, private_project, engineer, lead
):
    settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_USER = 2
    _queued(QUICK, project=project, user=engineer)
    _queued(QUICK, project=private_project, user=engineer)

    with pytest.raises(JobLimitReached, match="You have 2 jobs queued or running; one person may have at most 2"):
        _queued(QUICK, project=project, user=engineer)
    _queued(QUICK, project=project, user=lead)  # someone else still may


def test_jobs_the_platform_starts_by_itself_count_but_are_never_refused(settings, project, engineer):
    settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT = 1
    _queued(QUICK, project=project, user=engineer)
    _queued(QUICK, project=project, user=engineer, system=True)  # e.g. the profile of a new version
    assert Job.objects.filter(project=project).count() == 2
    with pytest.raises(JobLimitReached):
        _queued(QUICK, project=project, user=engineer)


def test_a_cap_of_zero_is_no_cap(settings, project, engineer):
    settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT = 0
    settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_USER = 0
    for _ in range(3):
        _queued(QUICK, project=project, user=engineer)
    assert Job.objects.count() == 3


def test_the_cap_check_must_run_where_the_jobs_are_created(project, engineer):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        job_capacity_check(project=project, user=engineer)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the advisory locks are PostgreSQL's")
def test_two_requests_racing_for_the_last_place_get_one_job(settings, project, engineer):
    settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT = 1
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def request() -> None:
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                job_enqueue(kind=QUICK, project=project, created_by=engineer)
                time.sleep(0.5)  # the rest of the request, still inside its transaction
            outcomes.append("queued")
        except JobLimitReached:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["queued", "refused"]
    assert Job.objects.filter(project=project).count() == 1


def test_the_api_answers_a_cap_with_429_and_retry_after(settings, project, engineer):
    settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT = 1
    url = reverse("api:project-export-list", kwargs={"project_slug": project.slug})
    api = signed_in(engineer, api=True)
    assert api.post(url, {}, format="json").status_code == 202

    refused = api.post(url, {}, format="json")

    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    assert refused.json()["detail"].startswith("This project has 1 jobs queued or running")
    assert Job.objects.count() == 1


def test_a_page_answers_a_cap_with_a_readable_429_page(settings, project, engineer):
    settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_USER = 1
    client = signed_in(engineer)
    url = reverse("projects:export", args=[project.slug])
    assert client.post(url).status_code == 302

    refused = client.post(url)

    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    page = refused.content.decode()
    assert "Too many jobs at once" in page and "one person may have at most 1" in page
    assert Job.objects.count() == 1


def test_the_automatic_profile_after_a_version_is_written_is_queued_even_at_the_cap(settings, project, engineer):
    from datasets.services import profile_recompute, profile_start
    from tests.fixtures_annotation import make_version

    version = make_version(project, kind="tabular", slug="iris", count=4)
    settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT = 1
    _queued(QUICK, project=project, user=engineer)

    with transaction.atomic():
        automatic = profile_start(version=version, actor=engineer)
    assert automatic.kind == "dataset_profile"
    with pytest.raises(JobLimitReached), transaction.atomic():
        profile_recompute(version=version, actor=engineer)
