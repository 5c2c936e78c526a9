"""What a job's work is handed: its row and parameters, and the way to report progress and log
lines while its worker holds the claim. Below the runner and the registry, so the job kinds of the
apps (and the registry's type of their `run`) import it without importing the runner."""

from __future__ import annotations

import time
from typing import Any

from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from prakriya.jobs.messages import out_of_time_message
from prakriya.jobs.models import Job, JobState


class LostClaim(Exception):
    """Another worker took the job over (ours was presumed dead); stop without writing."""


class JobCancelled(Exception):
    pass


class JobOutOfTime(Exception):
    """The job ran past its soft time limit. Raised at its next progress report (any worker pool),
    as Celery's SoftTimeLimitExceeded is raised asynchronously by a prefork worker."""


class JobContext:
    def __init__(self, job: Job, run_token: str, *, soft_limit: int | None = None) -> None:
        self.job = job
        self.run_token = run_token
        self.params: dict[str, Any] = dict(job.params)
        self.soft_limit = soft_limit
        self._stop_at = time.monotonic() + soft_limit if soft_limit else None

    def _mine(self):
        return Job.objects.filter(pk=self.job.pk, run_token=self.run_token, state=JobState.RUNNING)

    def progress(self, percent: float, message: str = "") -> None:
        percent = max(0.0, min(100.0, float(percent)))
        updated = self._mine().update(progress=percent, message=message[:500], heartbeat_at=timezone.now())
        if not updated:
            raise LostClaim(f"job {self.job.pk} is no longer ours")
        if Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise JobCancelled()
        if self._stop_at is not None and time.monotonic() >= self._stop_at:
            raise JobOutOfTime(out_of_time_message(self.soft_limit))

    def log(self, line: str) -> None:
        stamp = timezone.now().strftime("%H:%M:%S")
        self._mine().update(log=Concat(F("log"), Value(f"[{stamp}] {line}\n")))
