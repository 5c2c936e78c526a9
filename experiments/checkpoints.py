"""Checkpoints by stage: a run's final model registered as a version of the project's model in
MLflow's model registry, with an alias named after the stage it stands for.

The stages are the ones the process names for model improvement (overfit-one-batch, overfit-all,
regularised, fine-tuned). Registering a run "as overfit-all" creates a new model version from the
run's `model` artifact folder and moves the `overfit-all` alias to it: the alias always names the
latest checkpoint of that stage, earlier versions stay in the registry with their run linked.

The registry lives in the platform's MLflow store; the /mlflow/ proxy refuses registry calls from
outside clients, so this module is the only writer. The project's registered model is named by its
slug and tagged with the project's id, as its experiment is: a reused slug never adopts an old
project's model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from experiments import mlflow_store
from experiments.models import Run
from projects import policy
from projects.models import Project

STAGES = ("overfit-one-batch", "overfit-all", "regularised", "fine-tuned")
STAGE_CHOICES = [(stage, stage) for stage in STAGES]
MODEL_FILE = "model/model.pt"
_TERMINAL_OK = "FINISHED"


def model_name(*, project: Project) -> str:
    return mlflow_store.experiment_name(slug=project.slug)


@dataclass
class RegisteredVersion:
    version: str
    aliases: list[str] = field(default_factory=list)
    created_at: int | None = None
    stage: str = ""


def _registered_model(project: Project):
    """The project's registered model, or None when it has none yet (or the name is another
    project's)."""
    from mlflow.exceptions import MlflowException

    try:
        model = mlflow_store.client().get_registered_model(model_name(project=project))
    except MlflowException:
        return None
    if model.tags.get(mlflow_store.TAG_PROJECT_ID) != str(project.pk):
        return None
    return model


def run_versions(*, run: Run) -> list[RegisteredVersion]:
    """The model versions registered from the run, newest first, each with the aliases that point
    at it now. The Run row has already been scoped to the requesting user."""
    model = _registered_model(run.project)
    if model is None:
        return []
    by_version: dict[str, list[str]] = {}
    for alias, version in (model.aliases or {}).items():
        by_version.setdefault(str(version), []).append(alias)
    found = mlflow_store.client().search_model_versions(
        f"name = '{model.name}' and run_id = '{run.mlflow_run_id}'"
    )
    versions = [
        RegisteredVersion(
            version=str(v.version), aliases=sorted(by_version.get(str(v.version), [])),
            created_at=v.creation_timestamp, stage=(v.tags or {}).get(mlflow_store.TAG_STAGE, ""),
        )
        for v in found
    ]
    return sorted(versions, key=lambda v: int(v.version), reverse=True)


def has_model_file(*, run: Run) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        return any(f.path == MODEL_FILE for f in mlflow_store.list_artifacts(run_id=run.mlflow_run_id, path="model"))
    except (MlflowException, OSError):
        return False


def _ensure_registered_model(project: Project) -> str:
    from mlflow.exceptions import MlflowException

    client = mlflow_store.client()
    name = model_name(project=project)
    if _registered_model(project) is not None:
        return name
    try:
        client.create_registered_model(
            name,
            tags={mlflow_store.TAG_PROJECT: project.slug, mlflow_store.TAG_PROJECT_ID: str(project.pk)},
            description=f"Checkpoints of {project.title}, one alias per stage.",
        )
    except MlflowException:
        # The name is taken: by a concurrent registration (fine: it is this project's) or by
        # another project's model.
        if _registered_model(project) is None:
            raise ValidationError(f"The registered model {name!r} belongs to another project.") from None
    return name


def checkpoint_register(*, run: Run, actor: AbstractBaseUser, stage: str) -> RegisteredVersion:
    """Registers the run's final model as a new version of the project's model and points the
    stage's alias at it. Only MLflow is written (no platform rows), hence no transaction."""
    policy.require(user=actor, project=run.project, action=policy.LAUNCH_JOBS, what="register checkpoints")
    if stage not in STAGES:
        raise ValidationError(f"Choose a stage: {', '.join(STAGES)}.")
    from mlflow.exceptions import MlflowException

    client = mlflow_store.client()
    try:
        mlflow_run = client.get_run(run.mlflow_run_id)
    except MlflowException:
        raise ValidationError("This run is missing in MLflow.") from None
    if mlflow_run.info.status != _TERMINAL_OK:
        raise ValidationError("Only a finished run can be registered as a checkpoint.")
    if not has_model_file(run=run):
        raise ValidationError(f"This run saved no {MODEL_FILE}: there is no model to register.")
    name = _ensure_registered_model(run.project)
    version = client.create_model_version(
        name,
        # The run's artifact folder, as RunsArtifactRepository resolves runs:/<id>/model.
        source=f"{mlflow_run.info.artifact_uri.rstrip('/')}/model",
        run_id=run.mlflow_run_id,
        tags={
            mlflow_store.TAG_STAGE: stage,
            "prakriya.registered_by": actor.get_username(),
            mlflow_store.TAG_DATASET_VERSION: mlflow_run.data.tags.get(mlflow_store.TAG_DATASET_VERSION, ""),
        },
        description=f"{run} registered as {stage}",
    )
    client.set_registered_model_alias(name, stage, version.version)
    return RegisteredVersion(version=str(version.version), aliases=[stage], created_at=version.creation_timestamp,
                             stage=stage)


ONNX_FORMAT_TAG = "prakriya.format"
ONNX_EXPORT_TAG = "prakriya.export"


def onnx_version_register(*, run: Run, export_id: int, artifact_folder: str) -> str:
    """Registers an ONNX export of the run as a new version of the project's model, beside the
    run's checkpoints: its source is the export's artifact folder of the run, its tags name the
    export and the format. Called by the export job, whose service checked the actor's role.
    Idempotent per export: a job run again after a crash finds its version instead of adding one."""
    client = mlflow_store.client()
    name = _ensure_registered_model(run.project)
    existing = client.search_model_versions(f"name = '{name}' and run_id = '{run.mlflow_run_id}'")
    for version in existing:
        if (version.tags or {}).get(ONNX_EXPORT_TAG) == str(export_id):
            return str(version.version)
    mlflow_run = client.get_run(run.mlflow_run_id)
    version = client.create_model_version(
        name,
        source=f"{mlflow_run.info.artifact_uri.rstrip('/')}/{artifact_folder.strip('/')}",
        run_id=run.mlflow_run_id,
        tags={
            ONNX_EXPORT_TAG: str(export_id),
            ONNX_FORMAT_TAG: "onnx",
            mlflow_store.TAG_DATASET_VERSION: mlflow_run.data.tags.get(mlflow_store.TAG_DATASET_VERSION, ""),
        },
        description=f"ONNX export {export_id} of {run}",
    )
    return str(version.version)
