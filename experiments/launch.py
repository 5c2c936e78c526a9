"""Starting training jobs, overfit-one-batch checks and grid searches: the request checks everything it
can before a job is queued, so a bad trainer name, configuration, grid or dataset version is a form
error, not a failed job."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from datasets.models import DatasetVersion, Split, VersionState
from experiments import kinds, mlflow_store, sweeps
from experiments import services as experiment_services
from experiments.checkpoints import STAGES
from experiments.models import Run, RunSource
from experiments.sweeps import PARENT_PARAM
from prakriya.jobs.models import Job
from prakriya.jobs.services import job_capacity_check, job_enqueue
from projects import policy


def _check_trainable(*, version: DatasetVersion, actor: AbstractBaseUser, trainer: str, what: str,
                     torch_only: bool = False):
    """Authorises the launch and checks the version and the trainer; returns the trainer's spec."""
    # The trainers' registry imports torch: loaded on the first launch, not at start-up.
    from experiments.training import TrainingInputError, get_trainer, trainers_for

    project = version.dataset.project
    policy.require(user=actor, project=project, action=policy.LAUNCH_JOBS, what=what)
    if version.state != VersionState.READY:
        raise ValidationError(f"{version} is not ready.")
    if not Split.objects.filter(version=version).exists():
        raise ValidationError(f"{version} has no split yet: split it before training on it.")
    try:
        spec = get_trainer(trainer)
    except TrainingInputError as exc:
        raise ValidationError(str(exc)) from exc
    kind = version.dataset.kind
    if torch_only and spec.family != "torch":
        fitting = ", ".join(s.name for s in trainers_for(kind) if s.family == "torch") or "none"
        raise ValidationError(
            f"{trainer} is a one-shot baseline: overfit-one-batch needs a network trained step by step "
            f"(for {kind} data: {fitting})."
        )
    if kind not in spec.kinds:
        fitting = ", ".join(s.name for s in trainers_for(kind))
        raise ValidationError(f"{trainer} does not train on {kind} data; for {kind} data use one of {fitting}.")
    return spec


def _resolve(trainer: str, config: dict[str, Any] | None) -> dict[str, Any]:
    """The trainer's full config, checked by its parser (types, lower bounds) and against the most
    one launch may ask for (experiments/training/limits.py): the one check of a training's settings
    for the pages, the API and every combination of a sweep."""
    from experiments.training import TrainingInputError, make_config
    from experiments.training.limits import check_launch_bounds

    try:
        resolved = make_config(trainer, config or {})
        check_launch_bounds(resolved, max_epochs=settings.PRAKRIYA_TRAINING_MAX_EPOCHS)
    except TrainingInputError as exc:
        raise ValidationError(str(exc)) from exc
    return resolved.as_params()


def _check_stage(stage: str) -> None:
    if stage and stage not in STAGES:
        raise ValidationError(f"Choose a stage among {', '.join(STAGES)}.")


@transaction.atomic
def training_start(
    *,
    version: DatasetVersion,
    actor: AbstractBaseUser,
    trainer: str,
    config: dict[str, Any] | None = None,
    name: str = "",
    stage: str = "",
    parent: Run | None = None,
    combination: dict[str, Any] | None = None,
) -> Job:
    """Queues a training job of `trainer` on the version's train and validation parts (a sweep's
    child when `parent` is given: its run hangs under the parent run)."""
    _check_trainable(version=version, actor=actor, trainer=trainer, what="train models")
    _check_stage(stage)
    params = {"trainer": trainer, "config": _resolve(trainer, config), "name": name[:200], "stage": stage}
    if parent is not None:
        params.update({PARENT_PARAM: parent.mlflow_run_id, "combination": combination or {}})
    return job_enqueue(
        kind=kinds.TRAIN, project=version.dataset.project, target=version, created_by=actor, params=params,
        # A crashed training is started again as a new run; more than that is wasted compute.
        max_attempts=2,
    )


# Overfit-one-batch: a network that cannot fit one batch in 10,000 steps will not in more, and a
# batch is a few dozen to a few thousand examples (the check is about one batch, not the data).
MAX_OVERFIT_STEPS = 10_000
MAX_OVERFIT_BATCH = 4096
# A fresh network's cross-entropy is about ln(classes), a few units: a threshold above 100 passes
# before the first step, which is a typo, not a check.
MAX_LOSS_THRESHOLD = 100.0


@transaction.atomic
def overfit_start(
    *,
    version: DatasetVersion,
    actor: AbstractBaseUser,
    trainer: str,
    config: dict[str, Any] | None = None,
    batch_size: int | None = None,
    loss_threshold: float = 0.01,
    max_steps: int = 500,
    name: str = "",
) -> Job:
    """Queues an overfit-one-batch check of a torch trainer on the version's training part."""
    _check_trainable(version=version, actor=actor, trainer=trainer, what="train models", torch_only=True)
    if not (isinstance(loss_threshold, int | float) and math.isfinite(loss_threshold)
            and 0 < loss_threshold <= MAX_LOSS_THRESHOLD):
        raise ValidationError(
            {"loss_threshold": [f"The loss threshold must be a number above 0 and at most {MAX_LOSS_THRESHOLD:g}."]}
        )
    if not 1 <= max_steps <= MAX_OVERFIT_STEPS:
        raise ValidationError({"max_steps": [f"The step budget is between 1 and {MAX_OVERFIT_STEPS} steps."]})
    if batch_size is not None and not 1 <= batch_size <= MAX_OVERFIT_BATCH:
        raise ValidationError({"batch_size": [f"The batch has between 1 and {MAX_OVERFIT_BATCH} examples."]})
    params = {
        "trainer": trainer, "config": _resolve(trainer, config), "name": name[:200], "batch_size": batch_size,
        "loss_threshold": float(loss_threshold), "max_steps": int(max_steps),
    }
    return job_enqueue(
        kind=kinds.OVERFIT, project=version.dataset.project, target=version, created_by=actor, params=params,
        max_attempts=2,
    )


@dataclass
class SweepStarted:
    parent: Run
    jobs: list[Job]


def sweep_start(
    *,
    version: DatasetVersion,
    actor: AbstractBaseUser,
    trainer: str,
    grid: Any,
    config: dict[str, Any] | None = None,
    name: str = "",
    stage: str = "",
) -> SweepStarted:
    """Checks every combination of the grid with the trainer's config parser, then makes the
    sweep's parent run (in MLflow and as a Run row) and queues one training job per combination.

    Everything is checked before MLflow is written; the parent run is created before the
    platform's transaction (MLflow is another store), so a database failure after it leaves an
    empty parent run in MLflow that no page lists, never jobs without a parent."""
    _check_trainable(version=version, actor=actor, trainer=trainer, what="train models")
    _check_stage(stage)
    try:
        parsed = sweeps.grid_parse(grid)
    except sweeps.GridError as exc:
        raise ValidationError(str(exc)) from exc
    base = dict(config or {})
    both = sorted(set(base) & set(parsed))
    if both:
        raise ValidationError(f"{', '.join(both)}: set in the grid or in the fixed settings, not both.")
    combinations = sweeps.combinations(parsed)
    _check_sweep_size(len(combinations))
    for combination in combinations:
        try:
            _resolve(trainer, {**base, **combination})
        except ValidationError as exc:
            raise ValidationError(f"{sweeps.combination_label(combination)}: {' '.join(exc.messages)}") from None
    project = version.dataset.project
    name = (name or f"grid search · {trainer} on {version.dataset.slug}@v{version.number}")[:200]
    # A sweep is queued whole or not at all: checked once before its parent run is written to
    # MLflow (a refusal leaves nothing behind), and again, binding, where its jobs are created.
    with transaction.atomic():
        job_capacity_check(project=project, user=actor, adding=len(combinations))
    parent_id = _sweep_parent_run(project=project, actor=actor, trainer=trainer, grid=parsed, base=base,
                                  name=name, version=version, stage=stage)
    with transaction.atomic():
        job_capacity_check(project=project, user=actor, adding=len(combinations))
        parent = experiment_services.run_record(
            project=project, mlflow_run_id=parent_id, source=RunSource.PLATFORM, name=name, created_by=actor,
        )
        jobs = [
            training_start(
                version=version, actor=actor, trainer=trainer, config={**base, **combination},
                name=f"{name} · {sweeps.combination_label(combination)}"[:200], stage=stage, parent=parent,
                combination=combination,
            )
            for combination in combinations
        ]
    return SweepStarted(parent=parent, jobs=jobs)


def _check_sweep_size(count: int) -> None:
    """A grid larger than a cap on active jobs could never be queued whole: a 400, not a 429."""
    caps = [(settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_USER, "one person"),
            (settings.PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT, "a project")]
    for cap, whom in caps:
        if cap and count > cap:
            raise ValidationError({"grid": [
                f"The grid makes {count} combinations, one training job each; {whom} may have at most {cap} jobs "
                f"queued or running at once, so a grid search here runs at most {cap} combinations."
            ]})


def _sweep_parent_run(*, project, actor, trainer: str, grid: dict, base: dict, name: str,
                      version: DatasetVersion, stage: str) -> str:
    from mlflow.entities import Param

    experiment = experiment_services.experiment_ensure(project=project)
    client = mlflow_store.client()
    tags = {
        mlflow_store.TAG_MLFLOW_RUN_NAME: name,
        mlflow_store.TAG_SOURCE: RunSource.PLATFORM,
        mlflow_store.TAG_KIND: sweeps.SWEEP_KIND,
        mlflow_store.TAG_DATASET_VERSION: f"{version.dataset.slug}@v{version.number}",
        mlflow_store.TAG_MLFLOW_USER: actor.get_username(),
    }
    if stage:
        tags[mlflow_store.TAG_STAGE] = stage
    run = client.create_run(experiment.experiment_id, run_name=name, tags=tags)
    params = [
        Param("trainer", trainer),
        Param(sweeps.GRID_PARAM, json.dumps(grid)),
        Param("fixed_settings", json.dumps(base)[:6000]),
        Param("combinations", str(len(sweeps.combinations(grid)))),
    ]
    client.log_batch(run.info.run_id, params=params)
    return run.info.run_id
