"""Writes of batch predictions: starting one (engineers and the lead), and what its job records.

A batch prediction is a row first (PENDING), then a job on the `export` queue (sent once the row
is committed: prakriya.jobs.services.job_enqueue). The job writes the CSV under the batch's id,
replacing any file of an earlier attempt whole, and records it; the row becomes READY in the
transaction that marks the job succeeded, so a page never offers the file of a failed job.

What is bounded: the version's items to score (PRAKRIYA_BATCH_PREDICT_MAX_ITEMS, checked here
and again by the job), the batches the model is run on (deployments/batch/work.py), the job's
time (deployments/batch/jobs.py), and the caps on active jobs that every launch is held to.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from datasets.models import DatasetVersion, VersionState
from deployments import kinds
from deployments.batch import selectors
from deployments.models import BatchPrediction, BatchState, Deployment, ExportState, ModelExport
from prakriya.jobs.services import job_enqueue
from projects import policy
from projects.services import timeline_record

START = policy.MANAGE_DEPLOYMENTS
MAX_FAILURE = 500


def _export_check(deployment: Deployment, export: ModelExport | None) -> ModelExport:
    export = export or deployment.stable
    if export.pk not in {deployment.stable_id, deployment.canary_id}:
        raise ValidationError({"export": ["Choose the deployment's stable version or its canary."]})
    if export.state != ExportState.READY:
        raise ValidationError({"export": ["This version of the deployment has no ready model."]})
    return export


def _version_check(deployment: Deployment, version: DatasetVersion, export: ModelExport) -> int:
    """The number of items the batch prediction will read, once the version fits the model."""
    if version.dataset.project_id != deployment.project_id:
        raise ValidationError({"version": ["This project has no such dataset version."]})
    if version.state != VersionState.READY:
        raise ValidationError({"version": [f"{version.dataset.name} {version.label} is not ready."]})
    takes = (export.input_schema or {}).get("kind")
    if takes != version.dataset.kind:
        raise ValidationError({"version": [
            f"{export} takes {takes or 'unknown'} inputs; {version.dataset.name} holds {version.dataset.kind} items."
        ]})
    count = selectors.items_to_score(version=version).count()
    if count == 0:
        raise ValidationError({"version": [
            f"{version.dataset.name} {version.label} has no item outside the sealed test set to score."
        ]})
    limit = settings.PRAKRIYA_BATCH_PREDICT_MAX_ITEMS
    if count > limit:
        raise ValidationError({"version": [
            f"{version.dataset.name} {version.label} has {count} items to score; a batch prediction scores at most "
            f"{limit} (PRAKRIYA_BATCH_PREDICT_MAX_ITEMS)."
        ]})
    return count


@transaction.atomic
def batch_predict_start(
    *, deployment: Deployment, actor: AbstractBaseUser, version: DatasetVersion, export: ModelExport | None = None
) -> BatchPrediction:
    """Scores every item of `version` outside the sealed test set with the deployment's stable
    export (or `export`, which must be its stable or its canary) in a job; the CSV follows."""
    project = deployment.project
    policy.require(user=actor, project=project, action=START, what="score dataset versions with deployments")
    export = _export_check(deployment, export)
    count = _version_check(deployment, version, export)
    batch = BatchPrediction.objects.create(project=project, deployment=deployment, export=export, version=version,
                                           created_by=actor, items=count)
    job = job_enqueue(kind=kinds.BATCH_PREDICT, project=project, target=batch, created_by=actor,
                      params={"batch": batch.pk, "version": version.pk, "export": export.pk}, max_attempts=2)
    batch.job = job
    batch.save(update_fields=["job"])
    return batch


# --- Written by the batch-prediction job (deployments/batch/jobs.py) ----------------------------


@transaction.atomic
def batch_predict_reset(*, batch: BatchPrediction) -> None:
    """An attempt starts from a clean row: what an earlier, interrupted attempt recorded goes."""
    BatchPrediction.objects.filter(pk=batch.pk).update(
        state=BatchState.PENDING, scored=0, sealed_left_out=0, unreadable=0, notes=[], file_path="", sha256="",
        size_bytes=None, failure="", finished_at=None,
    )


@transaction.atomic
def batch_predict_results_save(*, batch: BatchPrediction, results: dict[str, Any]) -> None:
    """The written file and the counts; READY comes with the job's success."""
    allowed = {"items", "scored", "sealed_left_out", "unreadable", "notes", "file_path", "sha256", "size_bytes"}
    BatchPrediction.objects.filter(pk=batch.pk).update(**{k: v for k, v in results.items() if k in allowed})


@transaction.atomic
def batch_predict_fail(*, batch: BatchPrediction, failure: str) -> None:
    BatchPrediction.objects.filter(pk=batch.pk).update(state=BatchState.FAILED, failure=failure[:MAX_FAILURE],
                                                       finished_at=timezone.now())


@transaction.atomic
def batch_predict_complete(*, batch_id: int | None, actor: AbstractBaseUser | None) -> BatchPrediction | None:
    """Marks the batch prediction READY and records it on the timeline, exactly once: called in
    the transaction that marks its job succeeded. The timeline says what was scored and how many
    items, never a prediction."""
    batch = (
        BatchPrediction.objects.select_for_update(of=("self",))
        .select_related("project", "deployment", "export", "version__dataset")
        .filter(pk=batch_id).first()
    )
    if batch is None:
        return None
    batch.state, batch.finished_at = BatchState.READY, timezone.now()
    batch.save(update_fields=["state", "finished_at"])
    timeline_record(
        project=batch.project, actor=actor, verb="batch_prediction_done",
        text=f"Batch prediction: {batch.version.dataset.name} {batch.version.label} scored by {batch.deployment.name} "
        f"({batch.export}), {batch.scored} items",
        data={"deployment": batch.deployment.slug, "batch": batch.pk},
    )
    return batch
