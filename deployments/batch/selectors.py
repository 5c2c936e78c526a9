"""Reads of batch predictions. What they hold are predictions, so they are read like the
prediction log (policy.VIEW_PREDICTIONS: the team that runs the service), never by the public,
even of a public project. Also which items of a version a batch prediction may read: every item
but the sealed test set's."""

from __future__ import annotations

from pathlib import Path

from django.db.models import Q, QuerySet
from django.http import Http404

from datasets.models import DatasetVersion, Item, SealedItem, SplitPart, VersionState
from deployments.batch import files
from deployments.models import BatchPrediction, BatchState, Deployment
from projects import policy
from projects.models import Project
from projects.policy import AnyUser


def batch_predictions_for(*, user: AnyUser, deployment: Deployment) -> QuerySet[BatchPrediction]:
    """The deployment's batch predictions, newest first; none for those who may not read its
    predictions."""
    if not policy.can(user=user, project=deployment.project, action=policy.VIEW_PREDICTIONS):
        return BatchPrediction.objects.none()
    return BatchPrediction.objects.filter(deployment=deployment).select_related(
        "deployment", "export", "version__dataset", "job", "created_by")


def batch_prediction_get(*, user: AnyUser, deployment: Deployment, pk: int) -> BatchPrediction:
    batch = batch_predictions_for(user=user, deployment=deployment).filter(pk=pk).first()
    if batch is None:
        raise Http404("No such batch prediction.")
    batch.deployment = deployment
    return batch


def scorable_versions(*, project: Project) -> QuerySet[DatasetVersion]:
    """The project's dataset versions a batch prediction takes: the ready ones, by dataset, newest
    first."""
    return (
        DatasetVersion.objects.filter(dataset__project=project, state=VersionState.READY)
        .select_related("dataset")
        .order_by("dataset__name", "-number")
    )


def _sealed(version: DatasetVersion) -> Q:
    """An item of the dataset's sealed test set: its key is sealed (in any version of the
    dataset), or this version's split puts it in the test part."""
    sealed_keys = SealedItem.objects.filter(dataset_id=version.dataset_id).values("key")
    return Q(key__in=sealed_keys) | Q(assignment__part=SplitPart.TEST)


def items_to_score(*, version: DatasetVersion) -> QuerySet[Item]:
    """Every item of the version but the sealed test set's: derivations never touch those."""
    return Item.objects.filter(version=version).exclude(_sealed(version))


def sealed_left_out(*, version: DatasetVersion) -> int:
    """How many of the version's items a batch prediction leaves out as sealed (a count of items,
    which no label decides)."""
    return Item.objects.filter(version=version).filter(_sealed(version)).distinct().count()


def output_file(*, batch: BatchPrediction) -> Path | None:
    """The CSV of a ready batch prediction (the caller has authorised the batch), or None when
    there is none to serve."""
    if batch.state != BatchState.READY or not batch.file_path:
        return None
    path = files.absolute(batch.file_path)
    return path if path is not None and path.is_file() else None
