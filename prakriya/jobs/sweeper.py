"""Finds jobs the broker or a worker lost and puts them back to work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from prakriya.jobs.messages import hard_limit_message
from prakriya.jobs.models import Job, JobState
from prakriya.jobs.services import job_ended_unrun, job_requeue


@dataclass
class SweepReport:
    requeued: list[int]
    interrupted: list[int]
    dead: list[int]
    out_of_time: list[int]


def jobs_sweep(
    *, stale_after: timedelta | None = None, requeue_after: timedelta | None = None
) -> SweepReport:
    stale_after = stale_after or timedelta(seconds=settings.PRAKRIYA_JOB_STALE_SECONDS)
    requeue_after = requeue_after or timedelta(seconds=settings.PRAKRIYA_JOB_REQUEUE_SECONDS)
    now = timezone.now()
    report = SweepReport(requeued=[], interrupted=[], dead=[], out_of_time=[])

    with transaction.atomic():
        stale = Job.objects.select_for_update(skip_locked=True).filter(
            state=JobState.RUNNING, heartbeat_at__lt=now - stale_after
        )
        for job in stale:
            if job.hit_hard_limit(now):
                # Killed for running too long: another attempt would run as long again.
                job.state, job.finished_at, job.message = JobState.FAILED, now, hard_limit_message()
                job.save(update_fields=["state", "finished_at", "message"])
                job_ended_unrun(job=job)
                report.out_of_time.append(job.pk)
                continue
            if job.attempts >= job.max_attempts:
                job.state, job.finished_at = JobState.DEAD, now
                job.message = f"Worker lost {job.attempts} times; giving up"
                job.save(update_fields=["state", "finished_at", "message"])
                job_ended_unrun(job=job)
                report.dead.append(job.pk)
                continue
            job.state = JobState.INTERRUPTED
            job.message = "Worker stopped responding; waiting for another worker"
            job.log += f"[{now:%H:%M:%S}] attempt {job.attempts} interrupted (no heartbeat)\n"
            job.save(update_fields=["state", "message", "log"])
            job_requeue(job=job)
            report.interrupted.append(job.pk)

        lost = Job.objects.select_for_update(skip_locked=True).filter(
            state__in=[JobState.QUEUED, JobState.INTERRUPTED], enqueued_at__lt=now - requeue_after
        )
        for job in lost:
            job_requeue(job=job)
            report.requeued.append(job.pk)
    return report
