"""The batch-prediction job (kind deployments_batch_predict, on the `export` queue): thin, the work
is deployments/batch/work.py. A failure not our own is named by its type only: a library's message
may quote the inputs it choked on, and the failure is shown on the batch prediction's page."""

from __future__ import annotations

import logging
from typing import Any

from deployments import kinds
from deployments.batch import services
from deployments.models import BatchPrediction, BatchState
from prakriya.jobs import registry
from prakriya.jobs.context import JobCancelled, JobContext, JobOutOfTime, LostClaim
from prakriya.jobs.models import Job
from projects import policy

TIME_LIMIT_SECONDS = 30 * 60
logger = logging.getLogger(__name__)


def _run(ctx: JobContext) -> dict[str, Any]:
    from deployments.batch.work import BatchFailed, batch_predict_run

    batch = (
        BatchPrediction.objects.select_related("project", "deployment", "export__run", "version__dataset__project")
        .filter(pk=ctx.job.target_id).first()
    )
    if batch is None:
        return {"skipped": "the batch prediction was deleted"}
    try:
        result = batch_predict_run(batch=batch, progress=ctx.progress)
    except BatchFailed as exc:
        services.batch_predict_fail(batch=batch, failure=str(exc))
        raise
    except LostClaim:
        raise  # another worker has the job now: its row is theirs to write
    except (JobCancelled, JobOutOfTime) as exc:
        services.batch_predict_fail(batch=batch, failure="Cancelled." if isinstance(exc, JobCancelled) else str(exc))
        raise
    except Exception as exc:  # noqa: BLE001 - replaced by our own words, see the module's docstring
        logger.exception("batch prediction %s failed", batch.pk)
        message = f"The batch prediction failed inside the job ({type(exc).__name__})."
        services.batch_predict_fail(batch=batch, failure=message)
        raise BatchFailed(message) from None
    ctx.log(f"Batch prediction {batch.pk}: {result['scored']} items scored, {result['sealed_left_out']} sealed "
            f"test items left out, {result['unreadable']} unreadable")
    return result


def _done(job: Job, result: dict[str, Any]) -> None:
    services.batch_predict_complete(batch_id=result.get("batch"), actor=job.created_by)


def _ended_unrun(job: Job) -> None:
    batch = BatchPrediction.objects.filter(pk=job.target_id).first()
    if batch is not None and batch.state == BatchState.PENDING:
        services.batch_predict_fail(batch=batch, failure="The batch prediction's job ended before it ran.")


def _link(job: Job, user: policy.AnyUser) -> registry.JobLink | None:
    from django.urls import reverse

    batch = BatchPrediction.objects.select_related("project", "deployment").filter(pk=job.target_id).first()
    if batch is None or not policy.can(user=user, project=batch.project, action=policy.VIEW_PREDICTIONS):
        return None
    return registry.JobLink(
        reverse("deployments:batch_prediction", args=[batch.project.slug, batch.deployment.slug, batch.pk]),
        "Open the batch prediction and its file",
    )


registry.register(registry.JobKind(
    name=kinds.BATCH_PREDICT, label="Batch prediction", queue="export", run=_run, on_success=_done,
    on_ended_unrun=_ended_unrun, readers=policy.VIEW_PREDICTIONS, time_limit=TIME_LIMIT_SECONDS, result_link=_link,
))
