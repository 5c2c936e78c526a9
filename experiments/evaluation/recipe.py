"""What it takes to rebuild a run's model for a sealed evaluation, checked before a request is
accepted and again inside the job.

A run is evaluable when the platform trained it (an MLflow client's run records no model the
platform may load), it finished, its dataset version is one of the project's, ready and split, and
its model can be had without unpickling anything: a torch trainer's `model/model.pt` (read with
torch's weights_only loader), or a scikit-learn baseline re-fitted from the trainer, configuration
and seed its training job recorded (scikit-learn models are never saved, so never loaded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datasets.models import DatasetVersion, VersionState
from experiments import mlflow_store, runs
from experiments.models import Run, RunSource

MODEL_ARTIFACT = "model/model.pt"
PREDICTIONS_ARTIFACT = "predictions/validation.json"


class RecipeError(Exception):
    """Why the run's model cannot be rebuilt, for people."""


@dataclass(frozen=True)
class Recipe:
    run: Run
    version: DatasetVersion
    trainer: str
    family: str  # "torch" | "baseline"
    # The baseline's configuration as its training job recorded it (None for torch models).
    config: dict[str, Any] | None


def _artifact_paths(run_id: str, folder: str) -> set[str]:
    return {entry.path for entry in mlflow_store.list_artifacts(run_id=run_id, path=folder)}


def recipe_for(*, run: Run) -> Recipe:
    from experiments.training import TrainingInputError, get_trainer

    if run.source != RunSource.PLATFORM:
        raise RecipeError("Only runs trained by the platform can be evaluated: their model can be rebuilt.")
    mlflow_run = mlflow_store.client().get_run(run.mlflow_run_id)
    if mlflow_run.info.status != "FINISHED":
        raise RecipeError("The run has not finished successfully.")
    tags = mlflow_run.data.tags
    parts = runs.version_ref_parts(tags.get(mlflow_store.TAG_DATASET_VERSION, ""))
    version = (
        DatasetVersion.objects.select_related("dataset__project", "split")
        .filter(dataset__project=run.project, dataset__slug=parts[0], number=parts[1])
        .first()
        if parts
        else None
    )
    if version is None:
        raise RecipeError("The run names no dataset version of this project.")
    if version.state != VersionState.READY or not hasattr(version, "split"):
        raise RecipeError(f"{version} is not a ready, split version: it has no test part to evaluate on.")
    trainer = tags.get(mlflow_store.TAG_KIND, "")
    try:
        family = get_trainer(trainer).family
    except TrainingInputError:
        raise RecipeError("The run records no built-in trainer, so its model cannot be rebuilt.") from None
    if family == "torch":
        if MODEL_ARTIFACT not in _artifact_paths(run.mlflow_run_id, "model"):
            raise RecipeError(f"The run has no {MODEL_ARTIFACT} to evaluate.")
        return Recipe(run=run, version=version, trainer=trainer, family=family, config=None)
    job = run.job
    if job is None or (job.params or {}).get("trainer") != trainer:
        raise RecipeError("The run's training job is gone: the baseline cannot be re-fitted from its record.")
    if PREDICTIONS_ARTIFACT not in _artifact_paths(run.mlflow_run_id, "predictions"):
        raise RecipeError(f"The run has no {PREDICTIONS_ARTIFACT} to check a re-fitted baseline against.")
    config = dict(job.params.get("config") or {})
    # The job's configuration must be what the run says it trained with.
    recorded = mlflow_run.data.params
    differing = sorted(k for k, v in config.items() if k in recorded and recorded[k] != str(v)[:6000])
    if differing:
        raise RecipeError(f"The run's recorded parameters differ from its job's: {', '.join(differing)}.")
    return Recipe(run=run, version=version, trainer=trainer, family=family, config=config)
