"""The benchmark job (kind deployments_benchmark, on the `export` queue): thin, the work is
deployments/benchmark/work.py. A failure not our own is named by its type only."""

from __future__ import annotations

import logging
from typing import Any

from deployments import kinds
from deployments.benchmark import services
from deployments.models import Benchmark
from prakriya.jobs import registry
from prakriya.jobs.context import JobCancelled, JobContext, JobOutOfTime, LostClaim
from prakriya.jobs.models import Job
from projects import policy

TIME_LIMIT_SECONDS = 20 * 60
logger = logging.getLogger(__name__)


def _run(ctx: JobContext) -> dict[str, Any]:
    from deployments.benchmark.work import BenchmarkFailed, benchmark_run

    benchmark = Benchmark.objects.select_related("project", "export__run__job", "export__base").filter(
        pk=ctx.job.target_id).first()
    if benchmark is None:
        return {"skipped": "the benchmark was deleted"}
    try:
        return benchmark_run(benchmark=benchmark, progress=ctx.progress)
    except (BenchmarkFailed, LostClaim, JobCancelled, JobOutOfTime):
        raise
    except Exception as exc:  # noqa: BLE001 - a library's message may quote the rows it was given
        logger.exception("benchmark %s failed", benchmark.pk)
        raise BenchmarkFailed(f"The benchmark failed inside the job ({type(exc).__name__}).") from None


def _done(job: Job, result: dict[str, Any]) -> None:
    services.benchmark_complete(benchmark_id=result.get("benchmark"), actor=job.created_by)


def _link(job: Job, user: policy.AnyUser) -> registry.JobLink | None:
    from django.urls import reverse

    if job.target_id is None or job.project is None:
        return None
    if not policy.can(user=user, project=job.project, action=policy.VIEW_DEPLOYMENTS):
        return None
    return registry.JobLink(reverse("deployments:benchmark", args=[job.project.slug, job.target_id]),
                            "Open the benchmark's results against the project's targets")


registry.register(registry.JobKind(
    name=kinds.BENCHMARK, label="Benchmark", queue="export", run=_run, on_success=_done,
    readers=policy.VIEW_DEPLOYMENTS, time_limit=TIME_LIMIT_SECONDS, result_link=_link,
))
