"""Grid search: a sweep is a parent MLflow run (tagged kind=sweep, its grid as a JSON param) and one
training job per combination of the grid, each making a child run (mlflow.parentRunId and
Run.parent point at the parent). No table of its own: the parent's Run row, its children's Run
rows and the child jobs (their params name the parent run) are the whole record.

This module parses grids (plain Python), and reads a sweep for its page and the API: the children
in a comparison table, ranked by the sweep's metric, and a parallel-coordinates figure.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any

from experiments import mlflow_store, runs
from experiments.models import Run
from prakriya.jobs.models import TERMINAL_STATES, Job

SWEEP_KIND = "sweep"
GRID_PARAM = "grid"
PARENT_PARAM = "parent_run_id"  # a child job's params name its sweep's parent run
MAX_COMBINATIONS = 64
MAX_PARAMS = 8
MAX_GRID_CHARS = 5000  # the grid is stored as one MLflow param (at most 6000 characters)
# The metric a sweep ranks its children by: the first of these its children logged, with its
# direction (True: higher is better).
RANKING_METRICS = (("val_accuracy", True), ("val_macro_f1", True), ("val_loss", False), ("train_loss", False))


class GridError(ValueError):
    """The grid is malformed; the message says how, for people."""


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def grid_parse(grid: Any) -> dict[str, list[Any]]:
    """Checks the shape of a grid {param: [values]}: a few params, each with distinct values that
    are JSON scalars or lists of scalars (hidden_sizes: [[32], [64, 32]]). Whether the params are
    the trainer's is checked by its config parser, combination by combination."""
    if not isinstance(grid, dict) or not grid:
        raise GridError('Write the grid as a JSON object of lists, e.g. {"lr": [0.01, 0.1], "epochs": [2, 4]}.')
    if len(grid) > MAX_PARAMS:
        raise GridError(f"A grid varies at most {MAX_PARAMS} settings (this one varies {len(grid)}).")
    parsed: dict[str, list[Any]] = {}
    for name, values in grid.items():
        if not isinstance(name, str) or not name or len(name) > 100:
            raise GridError("Each setting in the grid is named by 1 to 100 characters.")
        if not isinstance(values, list) or not values:
            raise GridError(f"{name}: give a non-empty list of values, e.g. [0.01, 0.1].")
        for value in values:
            ok = _scalar(value) or (isinstance(value, list) and all(_scalar(v) for v in value))
            if not ok:
                raise GridError(f"{name}: each value is a number, a string or a list of those (got {value!r}).")
        keys = [json.dumps(v, sort_keys=True) for v in values]
        if len(set(keys)) != len(keys):
            raise GridError(f"{name}: a value appears twice.")
        parsed[name] = list(values)
    count = math.prod(len(values) for values in parsed.values())
    if count > MAX_COMBINATIONS:
        raise GridError(f"The grid makes {count} combinations; a sweep runs at most {MAX_COMBINATIONS}.")
    if len(json.dumps(parsed)) > MAX_GRID_CHARS:
        raise GridError(f"The grid is too long: at most {MAX_GRID_CHARS} characters of JSON.")
    return parsed


def combinations(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid, the first setting varying slowest."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[n] for n in names))]


def combination_label(combination: dict[str, Any]) -> str:
    return ", ".join(f"{name}={json.dumps(value)}" for name, value in combination.items())


# --- Reading a sweep ---------------------------------------------------------------------------


@dataclass
class SweepChild:
    combination: dict[str, Any]
    job: Job | None
    info: runs.RunInfo | None = None
    value: float | None = None  # the ranking metric's final value
    best: bool = False

    @property
    def state(self) -> str:
        """The child run's MLflow status once it has a run (finished, failed, running…), else its
        job's state (queued, cancelled…)."""
        if self.info is not None and self.info.found:
            return self.info.status.lower()
        return self.job.state if self.job is not None else ""

    @property
    def tone(self) -> str:
        return {"finished": "ok", "failed": "danger", "killed": "muted", "running": "info"}.get(self.state, "muted")

    @property
    def cells(self) -> list[str]:
        return [json.dumps(value) for value in self.combination.values()]


@dataclass
class Sweep:
    parent: runs.RunInfo
    grid: dict[str, list[Any]]
    trainer: str
    children: list[SweepChild] = field(default_factory=list)
    metric: str = ""
    higher_is_better: bool = True

    @property
    def total(self) -> int:
        return len(self.children)

    @property
    def done(self) -> int:
        return sum(1 for c in self.children if c.job is not None and c.job.state in TERMINAL_STATES)

    @property
    def running(self) -> bool:
        return self.parent.running or self.done < self.total

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 100.0

    @property
    def best(self) -> SweepChild | None:
        return next((c for c in self.children if c.best), None)


def is_sweep(info: runs.RunInfo) -> bool:
    return info.tags.get(mlflow_store.TAG_KIND) == SWEEP_KIND


def child_jobs(*, parent_run_id: str):
    return Job.objects.filter(params__parent_run_id=parent_run_id).order_by("id")


def sweep_read(*, parent: Run) -> Sweep | None:
    """The sweep whose parent run is `parent` (already scoped to the user), or None when the run
    is not a sweep."""
    info = runs.run_info(parent)
    if not is_sweep(info):
        return None
    try:
        grid = json.loads(info.params.get(GRID_PARAM, "{}"))
    except ValueError:
        grid = {}
    sweep = Sweep(parent=info, grid=grid if isinstance(grid, dict) else {}, trainer=info.params.get("trainer", ""))
    jobs = list(child_jobs(parent_run_id=parent.mlflow_run_id))
    records = {r.job_id: r for r in Run.objects.filter(parent=parent).order_by("created_at", "id")}
    infos = {i.record.job_id: i for i in runs.run_infos(list(records.values()))}
    for job in jobs:
        combination = job.params.get("combination") or {}
        sweep.children.append(SweepChild(combination=combination, job=job, info=infos.get(job.pk)))
    _rank(sweep)
    return sweep


def _rank(sweep: Sweep) -> None:
    finished = [c for c in sweep.children if c.info is not None and c.info.status == "FINISHED"]
    for key, higher in RANKING_METRICS:
        if any(key in c.info.metrics for c in finished):
            sweep.metric, sweep.higher_is_better = key, higher
            break
    if not sweep.metric:
        return
    for child in sweep.children:
        if child.info is not None:
            value = child.info.metrics.get(sweep.metric)
            child.value = value if value is not None and math.isfinite(value) else None
    scored = [c for c in finished if c.value is not None]
    if scored:
        best = (max if sweep.higher_is_better else min)(scored, key=lambda c: c.value)
        best.best = True


def sort_children(sweep: Sweep, *, column: str = "", descending: bool | None = None) -> list[SweepChild]:
    """The children sorted by a grid setting or by the metric (default: the metric, best first);
    children without a value go last."""
    if column in sweep.grid:
        def key(c):
            value = c.combination.get(column)
            return (0, value) if isinstance(value, int | float) and not isinstance(value, bool) else (1, json.dumps(value))
        ordered = sorted(sweep.children, key=key, reverse=bool(descending))
        return ordered
    desc = sweep.higher_is_better if descending is None else descending
    valued = [c for c in sweep.children if c.value is not None]
    rest = [c for c in sweep.children if c.value is None]
    return sorted(valued, key=lambda c: c.value, reverse=desc) + rest


def parcoords_figure(sweep: Sweep) -> str | None:
    """One line per finished child across one axis per grid setting and the metric; None until a
    child has a value. Settings that are not all numbers get categorical axes."""
    import plotly.graph_objects as go

    from datasets.charts import style

    scored = [c for c in sweep.children if c.value is not None]
    if not scored or not sweep.metric:
        return None
    dimensions = []
    for name in sweep.grid:
        values = [c.combination.get(name) for c in scored]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            dimensions.append({"label": name, "values": [float(v) for v in values]})
        else:
            labels = [json.dumps(v) for v in sweep.grid[name]]
            index = {label: i for i, label in enumerate(labels)}
            dimensions.append({
                "label": name, "values": [index.get(json.dumps(v), 0) for v in values],
                "tickvals": list(range(len(labels))), "ticktext": labels,
                "range": [0, max(len(labels) - 1, 1)],
            })
    metric_values = [c.value for c in scored]
    dimensions.append({"label": sweep.metric, "values": metric_values})
    figure = go.Figure(
        go.Parcoords(
            line={
                "color": metric_values, "colorscale": "Tealgrn", "showscale": True,
                "reversescale": not sweep.higher_is_better, "colorbar": {"title": {"text": sweep.metric}},
            },
            dimensions=dimensions,
        )
    )
    style(figure, title=f"Grid search · {sweep.metric}", height=380)
    figure.update_layout(margin={"l": 60, "r": 60, "t": 70, "b": 30})
    return figure.to_json()
