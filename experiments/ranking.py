"""The runs table's order and its best run: a project's runs sorted by any validation or training
metric (MLflow sorts, across every run of the project, not only one page's), and the best run by
the project's primary target.

Model selection happens on validation: a run's `test_*` metrics (the aggregates an approved sealed
evaluation logs into it) are neither offered for sorting nor used to pick the best run, so the
table never invites choosing a model by its test score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from experiments import mlflow_store
from experiments.evaluation.scoring import metric_key_of
from experiments.models import ProjectExperiment
from projects.models import Comparator, Project, Target

# A metric key MLflow accepts and its order-by clause can quote (no backtick).
_METRIC = re.compile(r"^[A-Za-z0-9_./ -]{1,250}$")
SORT_LIMIT = 5000  # runs ordered by MLflow; a project with more is sorted among its newest this many


def sortable(metric: str) -> bool:
    return bool(_METRIC.match(metric)) and not metric.startswith("test_")


def run_ids_by_metric(*, project: Project, metric: str, descending: bool) -> list[str]:
    """The project's MLflow run ids ordered by `metric` (runs without it last)."""
    from mlflow.entities import ViewType

    experiments = _experiments(project)
    if not experiments or not sortable(metric):
        return []
    runs = mlflow_store.tracking_store().search_runs(
        experiments, "", ViewType.ACTIVE_ONLY, max_results=SORT_LIMIT,
        order_by=[f"metrics.`{metric}` {'DESC' if descending else 'ASC'}", "attributes.start_time DESC"],
    )
    return [run.info.run_id for run in runs]


@dataclass(frozen=True)
class Best:
    run_id: str
    metric: str  # the validation metric it was picked by
    value: float
    target: Target


def primary_metric(project: Project) -> tuple[Target, str, bool] | None:
    """(primary target, the validation metric that measures it, higher is better), or None when
    the primary target is not one a run's validation measures (latency, size, an operating point)."""
    target = project.targets.filter(is_primary=True).first()
    if target is None or target.condition:
        return None
    key = metric_key_of(target.metric)
    if key is None:
        return None
    return target, f"val_{key}", target.comparator in (Comparator.GE, Comparator.GT)


def best_run(*, project: Project) -> Best | None:
    """The finished run with the best validation value of the primary target's metric."""
    from mlflow.entities import ViewType

    found = primary_metric(project)
    experiments = _experiments(project)
    if found is None or not experiments:
        return None
    target, metric, higher = found
    # Runs without the metric sort last: if the first lacks it, none has it.
    runs = mlflow_store.tracking_store().search_runs(
        experiments, "attributes.status = 'FINISHED'", ViewType.ACTIVE_ONLY,
        max_results=1, order_by=[f"metrics.`{metric}` {'DESC' if higher else 'ASC'}"],
    )
    if not runs or metric not in runs[0].data.metrics:
        return None
    run = runs[0]
    return Best(run_id=run.info.run_id, metric=metric, value=run.data.metrics[metric], target=target)


def _experiments(project: Project) -> list[str]:
    return list(ProjectExperiment.objects.filter(project=project).values_list("experiment_id", flat=True))
