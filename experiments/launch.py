"""Starting training jobs: the request checks everything it can before a job is queued, so a bad
trainer name, configuration or dataset version is a form error, not a failed job."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from datasets.models import DatasetVersion, Split, VersionState
from experiments.jobs import TRAIN_KIND
from prakriya.jobs.models import Job
from prakriya.jobs.services import job_enqueue
from projects import permissions
from projects.selectors import require_role


@transaction.atomic
def training_start(
    *,
    version: DatasetVersion,
    actor: AbstractBaseUser,
    trainer: str,
    config: dict[str, Any] | None = None,
    name: str = "",
    stage: str = "",
) -> Job:
    """Queues a training job of `trainer` on the version's train and validation parts."""
    # The trainers' registry imports torch: loaded on the first launch, not at start-up.
    from experiments.training import TrainingInputError, get_trainer, make_config, trainers_for

    project = version.dataset.project
    require_role(user=actor, project=project, action=permissions.LAUNCH_JOBS, what="train models")
    if version.state != VersionState.READY:
        raise ValidationError(f"{version} is not ready.")
    if not Split.objects.filter(version=version).exists():
        raise ValidationError(f"{version} has no split yet: split it before training on it.")
    try:
        spec = get_trainer(trainer)
        resolved = make_config(trainer, config or {})
    except TrainingInputError as exc:
        raise ValidationError(str(exc)) from exc
    if version.dataset.kind not in spec.kinds:
        kind = version.dataset.kind
        fitting = ", ".join(spec.name for spec in trainers_for(kind))
        raise ValidationError(f"{trainer} does not train on {kind} data; for {kind} data use one of {fitting}.")
    return job_enqueue(
        kind=TRAIN_KIND, project=project, target=version, created_by=actor,
        params={"trainer": trainer, "config": resolved.as_params(), "name": name[:200], "stage": stage},
        # A crashed training is started again as a new run; more than that is wasted compute.
        max_attempts=2,
    )
