"""The training job: one built-in trainer on one dataset version, as one MLflow run.

What the run records, so that every number it reports can be traced, is set where the run is
opened (experiments/tracked_run.py), with the seed the trainer used added here.

Metrics go to MLflow as the trainer logs them (per epoch, and per N steps when asked), so the
loss-curve page fills in while the job runs. Each epoch's checkpoint is an artifact under
checkpoints/; the final model is `model/model.pt` (torch, read back only with weights_only) and
the validation predictions are `predictions/validation.json` (what error analysis reads: no model
is ever loaded to analyse a run).

The overfit-one-batch job (kinds.OVERFIT) is the same kind of run for the sanity check: the loss
per step is its curve and `prakriya.overfit` its verdict. A sweep's child is a training job whose
params name the sweep's parent run: its run hangs under the parent, and the last child to end
closes the parent (sweep_close_if_done).

A re-delivered job (its worker died) closes the run its first attempt left RUNNING as FAILED and
starts a new run: a half-written metric history is never continued as if it were whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from datasets.models import DatasetVersion
from experiments import kinds, mlflow_store
from experiments.models import Run
from experiments.sweeps import PARENT_PARAM
from experiments.tracked_run import (
    RunStart,
    TrackedRun,
    close_interrupted_runs,
    dataset_input,
    tracked_run,
    version_ref,
)
from prakriya.jobs import registry
from prakriya.jobs.context import JobCancelled, JobContext
from prakriya.jobs.models import TERMINAL_STATES, Job
from projects import policy

OVERFIT_STAGE = "overfit-one-batch"
# The overfit-one-batch verdict (passed | failed) and the numbers it was decided on.
TAG_OVERFIT = "prakriya.overfit"
TAG_OVERFIT_FINAL_LOSS = "prakriya.overfit_final_loss"
TAG_OVERFIT_THRESHOLD = "prakriya.overfit_threshold"
TAG_OVERFIT_MAX_STEPS = "prakriya.overfit_max_steps"
TERMINAL_RUN_STATES = frozenset({"FINISHED", "FAILED", "KILLED"})


class TrainingRefused(Exception):
    """The data or the configuration cannot be trained on; the message says why, for people."""


@contextmanager
def _refusing() -> Iterator[None]:
    """The trainers' refusals of the data or the configuration, as a message for people."""
    from experiments.training import TrainingInputError

    try:
        yield
    except TrainingInputError as exc:
        raise TrainingRefused(str(exc)) from exc


def _version_of(ctx: JobContext) -> DatasetVersion | None:
    return DatasetVersion.objects.select_related("dataset__project").filter(pk=ctx.job.target_id).first()


def _run_trainer(
    ctx: JobContext, start: RunStart, work: Callable[[TrackedRun, Any, Callable[[float, str], None]], dict[str, Any]]
) -> dict[str, Any]:
    """What training and overfit-one-batch share: the run opened and ended around the work, the
    version's data read and recorded as the run's input, the trainer's own refusals turned into
    a message for people (_refusing). `work(run, loaded, progress)` trains and returns the job's result."""
    from experiments import inputs

    with tracked_run(ctx, start=start) as run:
        ctx.progress(3, "Reading the dataset version")
        with _refusing():
            loaded = inputs.load_inputs(version=start.version)
        run.client.log_inputs(run.run_id, datasets=[dataset_input(start.version)])
        for note in loaded.notes:
            ctx.log(note)
        run.log_params({**loaded.data.summary(), "trainer": start.trainer})

        def progress(fraction: float, message: str) -> None:
            ctx.progress(5 + 85 * fraction, message)

        return work(run, loaded, progress)


def _train(ctx: JobContext) -> dict[str, Any]:
    # torch and scikit-learn load here, in the training worker, not in every process that
    # registers the job kind (they take seconds to import).
    from experiments.training import Callbacks, train

    version = _version_of(ctx)
    if version is None:
        return {"skipped": "the dataset version was deleted"}
    trainer = ctx.params["trainer"]
    config = dict(ctx.params.get("config") or {})
    name = ctx.params.get("name") or f"{trainer} on {version_ref(version)}"
    seed = config.get("seed")

    def work(run: TrackedRun, loaded, progress) -> dict[str, Any]:
        def checkpoint(saved) -> None:
            run.log_bytes("checkpoints", f"epoch-{saved.epoch:04d}.pt", saved.data)

        with _refusing():
            result = train(trainer, loaded.data, config,
                           Callbacks(logger=run, progress=progress, on_checkpoint=checkpoint))
        # The seed the trainer used (its config's default when none was given) is the one recorded.
        used_seed = seed if seed is not None else run.param("seed")
        run.set_tag(mlflow_store.TAG_SEED, str(used_seed))
        run.set_tag("prakriya.outcome", result.status)
        ctx.progress(92, "Saving the model and the validation predictions")
        if result.model is not None:
            proba = result.model.predict_proba(loaded.data.x_val)
            predictions = {
                "classes": list(result.model.classes),
                "keys": loaded.val_keys,
                "labels": list(loaded.data.y_val),
                "probabilities": [[round(float(p), 6) for p in row] for row in proba],
            }
            run.log_bytes("predictions", "validation.json", json.dumps(predictions).encode())
            if hasattr(result.model, "checkpoint_bytes"):
                run.log_bytes("model", "model.pt", result.model.checkpoint_bytes())
        if result.status == "cancelled":
            raise JobCancelled()
        return {"run_id": run.run_id, "outcome": result.status, "metrics": result.metrics, "message": result.message}

    start = RunStart(version=version, trainer=trainer, name=name, stage=ctx.params.get("stage", ""))
    try:
        return _run_trainer(ctx, start, work)
    finally:
        # After the run is ended: the last child to end sees every sibling ended.
        if ctx.params.get(PARENT_PARAM):
            sweep_close_if_done(parent_run_id=ctx.params[PARENT_PARAM], current_job_id=ctx.job.pk)


def _overfit(ctx: JobContext) -> dict[str, Any]:
    """Overfit-one-batch as a run of its own: the loss per step is its curve, the verdict its
    `prakriya.overfit` tag. A failed check is a finished run with a failed verdict, not a failed
    job: the job did its work, the model did not fit."""
    from experiments.training import Callbacks, overfit_one_batch

    version = _version_of(ctx)
    if version is None:
        return {"skipped": "the dataset version was deleted"}
    trainer = ctx.params["trainer"]
    config = dict(ctx.params.get("config") or {})
    threshold = float(ctx.params["loss_threshold"])
    max_steps = int(ctx.params["max_steps"])
    name = ctx.params.get("name") or f"overfit-one-batch · {trainer} on {version_ref(version)}"

    def work(run: TrackedRun, loaded, progress) -> dict[str, Any]:
        with _refusing():
            result = overfit_one_batch(
                trainer, loaded.data, config, batch_size=ctx.params.get("batch_size"),
                loss_threshold=threshold, max_steps=max_steps,
                callbacks=Callbacks(logger=run, progress=progress),
            )
        if result.status == "cancelled":
            raise JobCancelled()
        used_seed = config.get("seed", run.param("seed"))
        run.set_tag(mlflow_store.TAG_SEED, str(used_seed))
        run.set_tag(TAG_OVERFIT, result.status)
        run.set_tag(TAG_OVERFIT_FINAL_LOSS, repr(result.final_loss))
        run.set_tag("prakriya.outcome", result.message)
        ctx.progress(92, "Saving the model")
        # The model that fitted the batch is the overfit-one-batch checkpoint.
        run.log_bytes("model", "model.pt", result.model.checkpoint_bytes())
        ctx.log(f"overfit-one-batch {result.status}: {result.message}")
        return {"run_id": run.run_id, "overfit": result.status, "final_loss": result.final_loss,
                "loss_threshold": threshold, "steps": result.steps, "message": result.message}

    start = RunStart(
        version=version, trainer=trainer, name=name, stage=OVERFIT_STAGE,
        tags={TAG_OVERFIT_THRESHOLD: repr(threshold), TAG_OVERFIT_MAX_STEPS: str(max_steps)},
    )
    return _run_trainer(ctx, start, work)


def _ended_unrun(job: Job) -> None:
    """A training or overfit job ended without its work ending (cancelled before it started, or
    given up after its workers died): the MLflow run an attempt left RUNNING is closed as FAILED,
    and a sweep's child lets the parent close if it was the last one it waited for."""
    # A run exists only once an attempt opened it, and with it the project's experiment.
    experiment_id = (
        Run.objects.filter(job_id=job.pk).values_list("project__mlflow_experiment__experiment_id", flat=True).first()
    )
    if experiment_id:
        close_interrupted_runs(mlflow_store.client(), experiment_id, job.pk)
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


# Who reads a training job reads its run (run pages, /mlflow/): policy.VIEW_RUNS. Two hours
# for a training run (the built-in models on CPU; PRAKRIYA_JOB_TIME_LIMITS lengthens it on GPU
# machines), half an hour for the overfit-one-batch check (at most 10,000 steps on one batch).
def _run_link(job: Job, user: policy.AnyUser) -> registry.JobLink | None:
    """The run the job made, once it exists; before that, a training's run appears on the runs page."""
    from django.urls import reverse

    if job.project is None or not policy.can(user=user, project=job.project, action=policy.VIEW_RUNS):
        return None
    run_id = (job.result or {}).get("run_id")
    if run_id:
        return registry.JobLink(reverse("experiments:run", args=[job.project.slug, run_id]),
                                "Open the run")
    if job.kind == kinds.TRAIN:
        return registry.JobLink(reverse("experiments:runs", args=[job.project.slug]), "Open the project's runs",
                                note="(this job's run appears there once it starts).")
    return None


registry.register(registry.JobKind(name=kinds.TRAIN, label="Training", queue="training", run=_train,
                                   on_ended_unrun=_ended_unrun, readers=policy.VIEW_RUNS, time_limit=2 * 3600,
                                   result_link=_run_link))
registry.register(registry.JobKind(name=kinds.OVERFIT, label="Overfit one batch", queue="training", run=_overfit,
                                   on_ended_unrun=_ended_unrun, readers=policy.VIEW_RUNS, time_limit=30 * 60,
                                   result_link=_run_link))
