"""Writes of the experiments app: a project's MLflow experiment and the platform's record of its
runs."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from experiments import mlflow_store
from experiments.models import ProjectExperiment, Run, RunSource
from prakriya.jobs.models import Job
from projects import services as project_services
from projects.models import Deliverable, DeliverableKind, Project


def _mlflow_experiment_id(*, project: Project) -> str:
    """The id of the project's experiment in MLflow, created if missing. Idempotent: a second
    call (or a concurrent one) finds the experiment the first made by its name and tag."""
    from mlflow.entities import ExperimentTag, LifecycleStage
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

    store = mlflow_store.tracking_store()
    name = mlflow_store.experiment_name(slug=project.slug)
    for _attempt in range(3):
        experiment = store.get_experiment_by_name(name)
        if experiment is not None and experiment.tags.get(mlflow_store.TAG_PROJECT_ID) != str(project.pk):
            if ProjectExperiment.objects.filter(experiment_id=experiment.experiment_id).exists():
                raise ValidationError(f"MLflow experiment {name!r} belongs to another project.")
            # A leftover of a removed project (or one made by hand on the MLflow server) holds the
            # name: moved aside, so that its runs never appear under this project.
            store.rename_experiment(experiment.experiment_id, f"{name}.orphaned-{experiment.experiment_id}")
            experiment = None
        if experiment is not None:
            if experiment.lifecycle_stage == LifecycleStage.DELETED:
                store.restore_experiment(experiment.experiment_id)
            return experiment.experiment_id
        tags = [
            ExperimentTag(mlflow_store.TAG_PROJECT, project.slug),
            ExperimentTag(mlflow_store.TAG_PROJECT_ID, str(project.pk)),
        ]
        try:
            # No artifact location: the store gives mlflow-artifacts:/<id> (served artifacts).
            return store.create_experiment(name, tags=tags)
        except MlflowException as exc:
            if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
            # Another process created it between our look-up and our insert: look again.
    raise RuntimeError(f"could not create MLflow experiment {name!r}")


@transaction.atomic
def experiment_ensure(*, project: Project) -> ProjectExperiment:
    """The project's MLflow experiment (named by its slug, tagged with the project), created on
    first use."""
    existing = ProjectExperiment.objects.filter(project=project).first()
    if existing is not None:
        return existing
    experiment_id = _mlflow_experiment_id(project=project)
    record, _ = ProjectExperiment.objects.get_or_create(
        project=project,
        defaults={"experiment_id": experiment_id, "name": mlflow_store.experiment_name(slug=project.slug)},
    )
    return record


@transaction.atomic
def run_record(
    *,
    project: Project,
    mlflow_run_id: str,
    source: RunSource | str,
    name: str = "",
    created_by: AbstractBaseUser | None = None,
    job: Job | None = None,
    parent: Run | None = None,
) -> Run:
    """Records an MLflow run under its project. Idempotent on the run id: a second call returns
    the first record unchanged."""
    if parent is not None and parent.project_id != project.pk:
        raise ValidationError("A run's parent must belong to the same project.")
    run, created = Run.objects.get_or_create(
        mlflow_run_id=mlflow_run_id,
        defaults={
            "project": project,
            "source": source,
            "name": (name or "")[:250],
            "created_by": created_by if created_by is not None and created_by.is_authenticated else None,
            "job": job,
            "parent": parent,
        },
    )
    if not created and run.project_id != project.pk:
        raise ValidationError("This MLflow run is recorded under another project.")
    return run


# --- The runs a deliverable rests on (experiments.evidence) --------------------------------------
# The deliverables whose evidence is runs the author chooses, and how many each may name.
CHOSEN_RUNS = {DeliverableKind.MODEL_IMPROVEMENT: 12, DeliverableKind.ERROR_ANALYSIS: 1}


@transaction.atomic
def deliverable_runs_choose(*, deliverable: Deliverable, actor: AbstractBaseUser, run_ids: list[str]) -> Deliverable:
    project = deliverable.project
    limit = CHOSEN_RUNS.get(deliverable.kind)
    deliverable = project_services.deliverable_lock_editable(deliverable=deliverable, actor=actor)
    if limit is None:
        raise ValidationError("This deliverable's evidence is not chosen runs.")
    run_ids = list(dict.fromkeys(run_ids))
    if len(run_ids) > limit:
        raise ValidationError(f"Choose at most {limit} run{'s' if limit > 1 else ''}.")
    known = set(Run.objects.filter(project=project, mlflow_run_id__in=run_ids).values_list("mlflow_run_id", flat=True))
    if unknown := [run_id for run_id in run_ids if run_id not in known]:
        raise ValidationError(f"Not a run of this project: {', '.join(unknown[:3])}.")
    deliverable.evidence_runs = run_ids
    deliverable.save(update_fields=["evidence_runs", "updated_at"])
    return deliverable
