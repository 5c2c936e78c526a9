"""The training job: one built-in trainer on one dataset version, as one MLflow run.

What the run records, so that every number it reports can be traced (TAG_* in mlflow_store):
the dataset version (tag and an MLflow dataset input with the version's DVC hash), the label
version (the campaign release that wrote the version's labels, else the version itself), the
seed, the platform's code version and the versions of the packages that did the arithmetic.

Metrics go to MLflow as the trainer logs them (per epoch, and per N steps when asked), so the
loss-curve page fills in while the job runs. Each epoch's checkpoint is an artifact under
checkpoints/; the final model is `model/model.pt` (torch, read back only with weights_only) and
the validation predictions are `predictions/validation.json` (what error analysis reads: no model
is ever loaded to analyse a run).

The overfit-one-batch job (OVERFIT_KIND) is the same kind of run for the sanity check: the loss
per step is its curve and `prakriya.overfit` its verdict. A sweep's child is a training job whose
params name the sweep's parent run: its run hangs under the parent, and the last child to end
closes the parent (sweep_close_if_done).

A re-delivered job (its worker died) closes the run its first attempt left RUNNING as FAILED and
starts a new run: a half-written metric history is never continued as if it were whole.
"""

from __future__ import annotations

import json
import platform as python_platform
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from django.conf import settings

from datasets.models import DatasetVersion
from experiments import mlflow_store
from experiments import services as experiment_services
from experiments.models import Run, RunSource
from experiments.permissions import VIEW_PRIVATE_RUNS
from experiments.sweeps import PARENT_PARAM
from prakriya.jobs import registry
from prakriya.jobs.models import TERMINAL_STATES, Job
from prakriya.jobs.context import JobCancelled, JobContext

TRAIN_KIND = "experiments_train"
OVERFIT_KIND = "experiments_overfit"
OVERFIT_STAGE = "overfit-one-batch"
# The overfit-one-batch verdict (passed | failed) and the numbers it was decided on.
TAG_OVERFIT = "prakriya.overfit"
TAG_OVERFIT_FINAL_LOSS = "prakriya.overfit_final_loss"
TAG_OVERFIT_THRESHOLD = "prakriya.overfit_threshold"
TAG_OVERFIT_MAX_STEPS = "prakriya.overfit_max_steps"
TERMINAL_RUN_STATES = frozenset({"FINISHED", "FAILED", "KILLED"})
PACKAGES = ("torch", "scikit-learn", "numpy", "mlflow", "prakriya")


class TrainingRefused(Exception):
    """The data or the configuration cannot be trained on; the message says why, for people."""


def code_version() -> str:
    """The platform's version and, when it runs from a git checkout, the commit."""
    version = metadata.version("prakriya")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=settings.BASE_DIR, capture_output=True,
            text=True, timeout=5, check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+g{commit}" if commit else version


def package_versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return " ".join([*found, f"python=={python_platform.python_version()}"])


def version_ref(version: DatasetVersion) -> str:
    return f"{version.dataset.slug}@v{version.number}"


def label_version_ref(version: DatasetVersion) -> str:
    """The campaign release whose labels the version holds, or the version itself (its labels
    came with its upload or from its parent)."""
    from datasets.annotation.models import LabelRelease

    release = LabelRelease.objects.filter(version=version).select_related("campaign").first()
    if release is not None:
        return f"{release.campaign.slug}/release-{release.pk}"
    return version_ref(version)


class _MlflowLogger:
    """The trainer's logger protocol on an MLflow run: one log_batch per call."""

    def __init__(self, client, run_id: str) -> None:
        self.client, self.run_id = client, run_id

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        self.client.log_batch(
            self.run_id, metrics=[Metric(key, float(value), stamp, int(step)) for key, value in metrics.items()]
        )

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[Param(key, str(value)[:6000]) for key, value in params.items()])


def _log_bytes(run_id: str, artifact_path: str, name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="prakriya-artifact-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        mlflow_store.log_artifact(run_id=run_id, local_path=path, artifact_path=artifact_path)


def _close_interrupted_runs(client, experiment_id: str, job_id: int) -> None:
    for run in client.search_runs(
        [experiment_id], filter_string=f"tags.`{mlflow_store.TAG_JOB}` = '{job_id}' and attributes.status = 'RUNNING'"
    ):
        client.set_tag(run.info.run_id, "prakriya.outcome", "interrupted")
        client.set_terminated(run.info.run_id, status="FAILED")


def _dataset_input(version: DatasetVersion):
    from mlflow.entities import Dataset, DatasetInput, InputTag

    dataset = Dataset(
        name=version_ref(version),
        # MLflow keeps a 36-character digest: DVC's md5 of the version's folder fits.
        digest=(version.dvc_md5 or version.git_commit)[:36],
        source_type="dvc",
        source=json.dumps({"git_tag": version.git_tag, "git_commit": version.git_commit}),
    )
    return DatasetInput(dataset=dataset, tags=[InputTag(key="mlflow.data.context", value="training")])


def _open_run(ctx: JobContext, version: DatasetVersion, *, trainer: str, name: str, stage: str,
              tags: dict[str, str] | None = None) -> tuple[Any, str]:
    """Creates the job's MLflow run with the traceability tags (after closing the runs an
    interrupted attempt left RUNNING) and records it; a sweep child's run hangs under its
    parent. Returns the client and the run id."""
    project = version.dataset.project
    experiment = experiment_services.experiment_ensure(project=project)
    client = mlflow_store.client()
    _close_interrupted_runs(client, experiment.experiment_id, ctx.job.pk)
    all_tags = {
        mlflow_store.TAG_MLFLOW_RUN_NAME: name,
        mlflow_store.TAG_SOURCE: RunSource.PLATFORM,
        mlflow_store.TAG_JOB: str(ctx.job.pk),
        mlflow_store.TAG_KIND: trainer,
        mlflow_store.TAG_DATASET_VERSION: version_ref(version),
        mlflow_store.TAG_LABEL_VERSION: label_version_ref(version),
        mlflow_store.TAG_CODE_VERSION: code_version(),
        mlflow_store.TAG_PACKAGES: package_versions(),
        "prakriya.git_commit": version.git_commit,
        **(tags or {}),
    }
    if stage:
        all_tags[mlflow_store.TAG_STAGE] = stage
    parent = None
    parent_id = ctx.params.get(PARENT_PARAM)
    if parent_id:
        parent = Run.objects.filter(project=project, mlflow_run_id=parent_id).first()
        all_tags[mlflow_store.TAG_MLFLOW_PARENT_RUN] = parent_id
    if ctx.job.created_by_id:
        all_tags[mlflow_store.TAG_MLFLOW_USER] = ctx.job.created_by.get_username()
    run = client.create_run(experiment.experiment_id, run_name=name, tags=all_tags)
    run_id = run.info.run_id
    experiment_services.run_record(
        project=project, mlflow_run_id=run_id, source=RunSource.PLATFORM, name=name,
        created_by=ctx.job.created_by, job=ctx.job, parent=parent,
    )
    return client, run_id


def _load(ctx: JobContext, client, run_id: str, version: DatasetVersion, trainer: str):
    from experiments import inputs
    from experiments.training import TrainingInputError

    ctx.progress(3, "Reading the dataset version")
    try:
        loaded = inputs.load_inputs(version=version)
    except TrainingInputError as exc:
        raise TrainingRefused(str(exc)) from exc
    client.log_inputs(run_id, datasets=[_dataset_input(version)])
    for note in loaded.notes:
        ctx.log(note)
    logger = _MlflowLogger(client, run_id)
    logger.log_params({**loaded.data.summary(), "trainer": trainer})
    return loaded, logger


def _version_of(ctx: JobContext) -> DatasetVersion | None:
    return DatasetVersion.objects.select_related("dataset__project").filter(pk=ctx.job.target_id).first()


def _train(ctx: JobContext) -> dict[str, Any]:
    # torch and scikit-learn load here, in the training worker, not in every process that
    # registers the job kind (they take seconds to import).
    from experiments.training import Callbacks, TrainingInputError, train

    version = _version_of(ctx)
    if version is None:
        return {"skipped": "the dataset version was deleted"}
    trainer = ctx.params["trainer"]
    config = dict(ctx.params.get("config") or {})
    name = ctx.params.get("name") or f"{trainer} on {version_ref(version)}"
    seed = config.get("seed")
    client, run_id = _open_run(ctx, version, trainer=trainer, name=name, stage=ctx.params.get("stage", ""))
    status = "FAILED"
    try:
        loaded, logger = _load(ctx, client, run_id, version, trainer)

        def progress(fraction: float, message: str) -> None:
            ctx.progress(5 + 85 * fraction, message)

        def checkpoint(saved) -> None:
            _log_bytes(run_id, "checkpoints", f"epoch-{saved.epoch:04d}.pt", saved.data)

        try:
            result = train(trainer, loaded.data, config,
                           Callbacks(logger=logger, progress=progress, on_checkpoint=checkpoint))
        except TrainingInputError as exc:
            raise TrainingRefused(str(exc)) from exc
        # The seed the trainer used (its config's default when none was given) is the one recorded.
        used_seed = seed if seed is not None else client.get_run(run_id).data.params.get("seed", "")
        client.set_tag(run_id, mlflow_store.TAG_SEED, str(used_seed))
        client.set_tag(run_id, "prakriya.outcome", result.status)
        ctx.progress(92, "Saving the model and the validation predictions")
        if result.model is not None:
            proba = result.model.predict_proba(loaded.data.x_val)
            predictions = {
                "classes": list(result.model.classes),
                "keys": loaded.val_keys,
                "labels": list(loaded.data.y_val),
                "probabilities": [[round(float(p), 6) for p in row] for row in proba],
            }
            _log_bytes(run_id, "predictions", "validation.json", json.dumps(predictions).encode())
            if hasattr(result.model, "checkpoint_bytes"):
                _log_bytes(run_id, "model", "model.pt", result.model.checkpoint_bytes())
        status = "FINISHED" if result.status != "cancelled" else "KILLED"
        if result.status == "cancelled":
            raise JobCancelled()
        return {"run_id": run_id, "outcome": result.status, "metrics": result.metrics, "message": result.message}
    except JobCancelled:
        status = "KILLED"
        raise
    finally:
        client.set_terminated(run_id, status=status)
        if ctx.params.get(PARENT_PARAM):
            sweep_close_if_done(parent_run_id=ctx.params[PARENT_PARAM], current_job_id=ctx.job.pk)


def _overfit(ctx: JobContext) -> dict[str, Any]:
    """Overfit-one-batch as a run of its own: the loss per step is its curve, the verdict its
    `prakriya.overfit` tag. A failed check is a finished run with a failed verdict, not a failed
    job: the job did its work, the model did not fit."""
    from experiments.training import Callbacks, TrainingInputError, overfit_one_batch

    version = _version_of(ctx)
    if version is None:
        return {"skipped": "the dataset version was deleted"}
    trainer = ctx.params["trainer"]
    config = dict(ctx.params.get("config") or {})
    threshold = float(ctx.params["loss_threshold"])
    max_steps = int(ctx.params["max_steps"])
    name = ctx.params.get("name") or f"overfit-one-batch · {trainer} on {version_ref(version)}"
    client, run_id = _open_run(
        ctx, version, trainer=trainer, name=name, stage=OVERFIT_STAGE,
        tags={TAG_OVERFIT_THRESHOLD: repr(threshold), TAG_OVERFIT_MAX_STEPS: str(max_steps)},
    )
    status = "FAILED"
    try:
        loaded, logger = _load(ctx, client, run_id, version, trainer)

        def progress(fraction: float, message: str) -> None:
            ctx.progress(5 + 85 * fraction, message)

        try:
            result = overfit_one_batch(
                trainer, loaded.data, config, batch_size=ctx.params.get("batch_size"),
                loss_threshold=threshold, max_steps=max_steps,
                callbacks=Callbacks(logger=logger, progress=progress),
            )
        except TrainingInputError as exc:
            raise TrainingRefused(str(exc)) from exc
        if result.status == "cancelled":
            raise JobCancelled()
        used_seed = config.get("seed", client.get_run(run_id).data.params.get("seed", ""))
        client.set_tag(run_id, mlflow_store.TAG_SEED, str(used_seed))
        client.set_tag(run_id, TAG_OVERFIT, result.status)
        client.set_tag(run_id, TAG_OVERFIT_FINAL_LOSS, repr(result.final_loss))
        client.set_tag(run_id, "prakriya.outcome", result.message)
        ctx.progress(92, "Saving the model")
        # The model that fitted the batch is the overfit-one-batch checkpoint.
        _log_bytes(run_id, "model", "model.pt", result.model.checkpoint_bytes())
        status = "FINISHED"
        ctx.log(f"overfit-one-batch {result.status}: {result.message}")
        return {"run_id": run_id, "overfit": result.status, "final_loss": result.final_loss,
                "loss_threshold": threshold, "steps": result.steps, "message": result.message}
    except JobCancelled:
        status = "KILLED"
        raise
    finally:
        client.set_terminated(run_id, status=status)


def _ended_unrun(job: Job) -> None:
    """A training or overfit job ended without its work ending (cancelled before it started, or
    given up after its workers died): the MLflow run an attempt left RUNNING is closed as FAILED,
    and a sweep's child lets the parent close if it was the last one it waited for."""
    # A run exists only once an attempt opened it, and with it the project's experiment.
    experiment_id = (
        Run.objects.filter(job_id=job.pk).values_list("project__mlflow_experiment__experiment_id", flat=True).first()
    )
    if experiment_id:
        _close_interrupted_runs(mlflow_store.client(), experiment_id, job.pk)
    parent_run_id = (job.params or {}).get(PARENT_PARAM)
    if parent_run_id:
        sweep_close_if_done(parent_run_id=parent_run_id, current_job_id=job.pk)


def sweep_close_if_done(*, parent_run_id: str, current_job_id: int) -> bool:
    """Closes a sweep's parent run FINISHED once every child has ended; True if this call closed
    it. Called by each child as it ends, after its own run is terminated, so the last child to
    end sees every sibling ended: a sibling counts as ended when its job is in a final state or
    its latest run is terminated (its job row is marked only after its work returns). Idempotent:
    an already closed parent is left alone."""
    from mlflow.exceptions import MlflowException

    client = mlflow_store.client()
    try:
        parent = client.get_run(parent_run_id)
    except MlflowException:
        return False
    if parent.info.status in TERMINAL_RUN_STATES:
        return False
    ended_runs: dict[str, bool] = {}
    for child in client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.`{mlflow_store.TAG_MLFLOW_PARENT_RUN}` = '{parent_run_id}'",
        order_by=["attributes.start_time ASC"], max_results=5000,
    ):
        # Later runs of a re-delivered job overwrite its interrupted first run.
        ended_runs[child.data.tags.get(mlflow_store.TAG_JOB, "")] = child.info.status in TERMINAL_RUN_STATES
    for job_id, state in Job.objects.filter(params__parent_run_id=parent_run_id).values_list("id", "state"):
        if job_id == current_job_id or state in TERMINAL_STATES or ended_runs.get(str(job_id)):
            continue
        return False
    client.set_terminated(parent_run_id, status="FINISHED")
    return True


# Who reads a training job reads its run (run pages, /mlflow/): experiments.permissions. Two hours
# for a training run (the built-in models on CPU; PRAKRIYA_JOB_TIME_LIMITS lengthens it on GPU
# machines), half an hour for the overfit-one-batch check (at most 10,000 steps on one batch).
registry.register(registry.JobKind(name=TRAIN_KIND, label="Training", queue="training", run=_train,
                                   on_ended_unrun=_ended_unrun, readers=VIEW_PRIVATE_RUNS, time_limit=2 * 3600))
registry.register(registry.JobKind(name=OVERFIT_KIND, label="Overfit one batch", queue="training", run=_overfit,
                                   on_ended_unrun=_ended_unrun, readers=VIEW_PRIVATE_RUNS, time_limit=30 * 60))
