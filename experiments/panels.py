"""The baselines deliverable's panel: the project's baseline runs (the simple trainers, or runs
tagged stage=baseline) with their validation metrics, side by side with the human baseline (its
interval, size and method from the labelling app) and the project's targets, and a bar chart of
the primary metric against its target. Its submit check asks for at least one finished baseline
run."""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass, field

import plotly.graph_objects as go
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string

from datasets.charts import style
from experiments import mlflow_store, runs, selectors
from experiments.models import Run
from projects import policy
from projects.models import Project, Target

BASELINE_STAGE = "baseline"
# Runs read from MLflow for the panel, newest first: a project's baselines are among its first few
# dozen runs, and a page must not read thousands of sweep children.
MAX_RUNS = 500
MAX_METRIC_COLUMNS = 6
_MEETS, _MISSES, _HUMAN, _TARGET = "#0f766e", "#94a3b8", "#e69f00", "#d55e00"


@functools.cache
def baseline_trainers() -> frozenset[str]:
    # Imported on first use: the trainers bring torch and scikit-learn, five seconds of imports
    # that every process would otherwise pay when Django starts (this module is loaded then).
    from experiments.training.registry import TRAINERS

    return frozenset(name for name, spec in TRAINERS.items() if spec.family == "baseline")


def is_baseline(info: runs.RunInfo) -> bool:
    stage = info.tags.get(mlflow_store.TAG_STAGE) or info.tags.get("stage")
    return info.found and (info.trainer in baseline_trainers() or stage == BASELINE_STAGE)


def metric_value(metrics: dict[str, float], metric: str) -> float | None:
    """A target names a metric ("accuracy"); runs log its validation value ("val_accuracy")."""
    bare = metric.removeprefix("val_")
    for key in (metric, f"val_{bare}", bare):
        if key in metrics:
            return metrics[key]
    return None


def _is_accuracy(metric: str) -> bool:
    return metric.removeprefix("val_") == "accuracy"


@dataclass
class Human:
    """What a human row shows beside its value: the interval, the items and how it was measured."""

    accuracy: float
    low: float
    high: float
    items: int
    method: str
    note: str
    comparable: bool


@dataclass
class Row:
    name: str
    kind: str  # "run" or "human"
    human: Human | None = None
    trainer: str = ""
    status: str = ""
    run_id: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    cells: list[float | None] = field(default_factory=list)  # per metric column
    checks: list[tuple[float | None, bool | None]] = field(default_factory=list)  # per target


def _baseline_infos(records: list[Run]) -> list[runs.RunInfo]:
    return [info for info in runs.run_infos(records) if is_baseline(info)]


def baseline_run_infos(*, user, project: Project) -> list[runs.RunInfo]:
    return _baseline_infos(list(selectors.runs_for_project(user=user, project=project)[:MAX_RUNS]))


def _human_rows(project: Project) -> list[Row]:
    # The numbers of the annotation app's own panel (its selector, not a second computation); only
    # the figures leave here, never the annotators' names. A baseline on too few items is listed
    # with its interval but has no metric: it meets or misses no target and is not in the chart.
    from datasets.annotation.selectors import human_baselines

    rows = []
    for campaign, baseline in human_baselines(project=project):
        human = Human(accuracy=baseline.accuracy, low=baseline.low, high=baseline.high, items=baseline.items,
                      method=baseline.method_name, note=baseline.method_note, comparable=baseline.comparable)
        rows.append(Row(name=f"Human ({campaign.name})", kind="human", human=human,
                        metrics={"val_accuracy": baseline.accuracy} if baseline.comparable else {}))
    return rows


def _metric_columns(rows: list[Row]) -> list[str]:
    logged = {key for row in rows if row.kind == "run" for key in row.metrics if key.startswith("val_")}
    ordered = [key for key in runs.KEY_METRICS if key in logged] + sorted(logged - set(runs.KEY_METRICS))
    return ordered[:MAX_METRIC_COLUMNS]


def baselines_figure(rows: list[Row], target: Target | None) -> str | None:
    """Every baseline and the human baseline on the primary metric, against its threshold."""
    metric = target.metric if target is not None else "accuracy"
    points = [(row, metric_value(row.metrics, metric)) for row in rows]
    points = [(row, value) for row, value in points if value is not None]
    if not points:
        return None
    colours = [
        _HUMAN if row.kind == "human" else (_MEETS if target is None or target.is_met_by(value) else _MISSES)
        for row, value in points
    ]
    humans = [row.human if row.kind == "human" and _is_accuracy(metric) else None for row, _ in points]
    error_y = None
    if any(humans):  # the human baselines' 95% intervals; runs have none to show
        error_y = {"type": "data", "symmetric": False, "color": _TARGET,
                   "array": [h.high - value if h else None for h, (_, value) in zip(humans, points, strict=True)],
                   "arrayminus": [value - h.low if h else None for h, (_, value) in zip(humans, points, strict=True)]}
    fig = go.Figure(go.Bar(
        x=[html.escape(row.name, quote=False) for row, _ in points],
        y=[value for _, value in points],
        marker_color=colours,
        error_y=error_y,
        text=[f"{value:.3g}" for _, value in points],
        textposition="auto",
        hovertemplate="%{x}: %{y}<extra></extra>",
    ))
    title = f"Baselines on {metric}"
    if target is not None:
        fig.add_hline(
            y=target.threshold, line_dash="dash", line_color=_TARGET,
            annotation_text=html.escape(f"target {target}", quote=False), annotation_position="top left",
        )
        title += " against the primary target"
    style(fig, title=html.escape(title, quote=False), y_title=html.escape(metric, quote=False), height=340)
    return fig.to_json()


def baselines_context(*, user, project: Project) -> dict:
    records = list(selectors.runs_for_project(user=user, project=project)[:MAX_RUNS])
    targets = list(project.targets.all())
    run_rows = [
        Row(name=info.name, kind="run", trainer=info.trainer, status=info.status, metrics=info.metrics,
            run_id=info.run_id)
        for info in _baseline_infos(records)
    ]
    rows = run_rows + _human_rows(project)
    for row in rows:
        for target in targets:
            value = metric_value(row.metrics, target.metric)
            if row.kind == "human" and not _is_accuracy(target.metric):
                value = None  # a human baseline is an accuracy; other targets say nothing of it
            row.checks.append((value, None if value is None else target.is_met_by(value)))
    columns = _metric_columns(rows)
    for row in rows:
        row.cells = [row.metrics.get(column) for column in columns]
    primary = next((t for t in targets if t.is_primary), None)
    return {
        "rows": rows,
        "run_count": len(run_rows),
        "columns": columns,
        "targets": targets,
        "figure": baselines_figure(rows, primary),
        "can_view_runs": policy.can(user=user, project=project, action=policy.VIEW_RUNS),
    }


def baselines_runs_panel(request, project: Project) -> str:
    context = baselines_context(user=request.user, project=project)
    return render_to_string(
        "experiments/_baselines_panel.html", {"project": project, **context}, request=request
    )


def baselines_ready_check(deliverable) -> None:
    """Submit check of the baselines deliverable: a model baseline must exist, finished."""
    records = list(Run.objects.filter(project=deliverable.project).order_by("-created_at", "-id")[:MAX_RUNS])
    if not any(info.status == "FINISHED" for info in _baseline_infos(records)):
        raise ValidationError(
            "Log at least one finished baseline run (majority, logistic regression, random forest, "
            "TF-IDF + logistic regression, or a run tagged stage=baseline) before submitting the baselines."
        )
