"""Reads of the experiments app, scoped to what the requesting user may see."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from experiments.models import ProjectExperiment, Run
from projects import policy
from projects import selectors as project_selectors
from projects.models import Project
from projects.selectors import AnyUser


def project_is_visible(*, user: AnyUser, project: Project) -> bool:
    """Whether the user may know the project exists (private projects are invisible to
    outsiders)."""
    return project_selectors.project_list_visible(user=user).filter(pk=project.pk).exists()


def runs_for_project(*, user: AnyUser, project: Project) -> QuerySet[Run]:
    """The project's runs, newest first; none for a user who may not see its runs."""
    if not policy.can(user=user, project=project, action=policy.VIEW_RUNS):
        return Run.objects.none()
    return Run.objects.filter(project=project).select_related("created_by", "parent", "job")


def runs_in_order(*, records: QuerySet[Run], run_ids: list[str]) -> list[Run]:
    """`records` in the order of `run_ids` (an MLflow ordering); runs it does not name come after,
    newest first."""
    position = {run_id: i for i, run_id in enumerate(run_ids)}
    listed = list(records)
    return sorted(listed, key=lambda r: (position.get(r.mlflow_run_id, len(position)), -r.created_at.timestamp()))


def run_get(*, user: AnyUser, project: Project, mlflow_run_id: str) -> Run:
    """One of the project's runs by its MLflow id; 404 when the user may not see it."""
    run = runs_for_project(user=user, project=project).filter(mlflow_run_id=mlflow_run_id).first()
    if run is None:
        raise Http404("No such run")
    return run


def trainable_versions(*, project: Project) -> QuerySet:
    """The project's dataset versions a training job accepts: ready and split, newest first."""
    from datasets.models import DatasetVersion, VersionState

    return (
        DatasetVersion.objects.filter(dataset__project=project, state=VersionState.READY, split__isnull=False)
        .select_related("dataset")
        .order_by("dataset__name", "-number")
    )


def experiment_of_project(*, project: Project) -> ProjectExperiment | None:
    return ProjectExperiment.objects.filter(project=project).first()


# --- Lookups without a user: the tracking server resolves ids first, then authorises -------


def experiment_for_id(*, experiment_id: str) -> ProjectExperiment | None:
    return ProjectExperiment.objects.select_related("project").filter(experiment_id=experiment_id).first()


def experiments_for_ids(*, experiment_ids: list[str]) -> dict[str, ProjectExperiment]:
    rows = ProjectExperiment.objects.select_related("project").filter(experiment_id__in=experiment_ids)
    return {row.experiment_id: row for row in rows}


def run_for_mlflow_id(*, mlflow_run_id: str) -> Run | None:
    return Run.objects.select_related("project").filter(mlflow_run_id=mlflow_run_id).first()
