"""Every target of a project beside what measures it, as the requesting user may see it: the
latest validation value (a run's logged `val_*` metric, or the error analysis of its validation
predictions — which computes precision at a coverage or at a recall), the latest sealed test
value and the latest benchmark value, each met, missed or not measured, with the page it comes
from. The project page's Targets table shows it (deployments/templatetags/target_values.py) and
/api/projects/{slug}/targets/values/ returns it.

It lives in the deployments app because it reads the experiments and the deployments of a project
and deployments is the app that depends on both (projects depends on neither).

No name matcher of its own: a target's metric is read as the error analysis reads it
(experiments.analysis.metrics), the sealed evaluation (experiments.evaluation.scoring) and the
benchmark (deployments.targets) by their own target checks.

The sealed split: a sealed value is the published aggregate of a finished evaluation that the
user may open (experiments.evaluation.selectors.latest_done: whoever sees the project's runs,
and only once the evaluation is done — after the lead's approval and the job's end), checked by
the evaluation's own target check. Nothing else here touches the test part: the analysis leaves
out any sealed item a predictions file might hold (reading.without_sealed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.urls import reverse

from deployments import targets as target_checks
from deployments.benchmark.selectors import benchmarks_for_project
from deployments.report import validation_value
from experiments import runs
from experiments import selectors as run_selectors
from experiments.analysis import metrics as analysis_metrics
from experiments.analysis import reading
from experiments.analysis.metrics import PredictionsError
from experiments.evaluation import scoring
from experiments.evaluation import selectors as evaluation_selectors
from projects import policy
from projects.models import Project, Target
from projects.selectors import AnyUser

MET, MISSED, NOT_MEASURED = "met", "missed", "not_measured"
# Runs read from MLflow for their validation metrics, newest first: the latest value of a target
# is among a project's recent runs, and the project page must not read its whole history.
MAX_RUNS = 50
# Runs whose validation predictions are read for the targets only the analysis computes: each is
# an artifact read (cached once found).
MAX_ANALYSED = 3
MAX_BENCHMARKS = 5
# A run without predictions is asked again after this long (a notebook may log them late).
NO_PREDICTIONS_SECONDS = 600
_ENGINEERING = (target_checks.LATENCY, target_checks.SIZE, target_checks.MEMORY, target_checks.THROUGHPUT)


@dataclass(frozen=True)
class Value:
    """One measured (or not measured) value of a target, with where it came from."""

    value: float | None = None
    status: str = NOT_MEASURED
    source: str = ""  # "run mlp seed 7", "test evaluation #3 of …", "benchmark #2 of …"
    url: str = ""
    note: str = ""  # how it was computed, or why there is none

    @property
    def measured(self) -> bool:
        return self.value is not None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "status": self.status, "source": self.source, "url": self.url, "note": self.note}


def _measured(target: Target, value: Any, *, source: str, url: str, note: str = "", met: bool | None = None) -> Value:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return Value(note=note or "Not measured.")
    met = target.is_met_by(float(value)) if met is None else met
    return Value(value=float(value), status=MET if met else MISSED, source=source, url=url, note=note)


@dataclass
class TargetValues:
    target: Target
    engineering: bool  # measured by a benchmark (latency, size, memory, throughput)
    validation: Value = field(default_factory=Value)
    sealed: Value = field(default_factory=Value)
    benchmark: Value = field(default_factory=Value)

    @property
    def on_model(self) -> bool:
        """Read on the model's predictions (validation, sealed test) rather than by a benchmark."""
        return not self.engineering

    def as_dict(self) -> dict[str, Any]:
        t = self.target
        return {
            "id": t.pk, "target": str(t), "metric": t.metric, "comparator": t.comparator, "threshold": t.threshold,
            "unit": t.unit, "condition": t.condition, "is_primary": t.is_primary,
            "validation": self.validation.as_dict(), "sealed": self.sealed.as_dict(),
            "benchmark": self.benchmark.as_dict(),
        }


# --- Validation ---------------------------------------------------------------------------------


def _logged_value(target: Target, info: runs.RunInfo) -> float | None:
    """The run's logged validation value of the target's metric (a plain target only): the
    analysis's name for it ("Macro F1" → val_macro_f1), else the metric as written."""
    if target.condition.strip():
        return None
    return validation_value(info.metrics, analysis_metrics.metric_name(target.metric) or target.metric)


def _run_source(info: runs.RunInfo) -> str:
    on = f" on {info.dataset_version}" if info.dataset_version else ""
    return f"run {info.name}{on}"


def _predictions(project: Project, info: runs.RunInfo):
    """The run's validation predictions minus any sealed item, or None without readable ones."""
    missing_key = f"target-values:no-predictions:v1:{info.run_id}"
    if cache.get(missing_key):
        return None
    try:
        p = reading.predictions_for(info.record)
    except (reading.NoPredictions, PredictionsError):
        cache.set(missing_key, True, NO_PREDICTIONS_SECONDS)
        return None
    p, _ = reading.without_sealed(p, reading.version_of(project, info))
    return p if len(p) else None


def _validation_values(*, user: AnyUser, project: Project, rows: list[TargetValues]) -> None:
    if not policy.can(user=user, project=project, action=policy.VIEW_RUNS):
        for row in rows:
            row.validation = Value(note="Your role does not include the project's experiments.")
        return
    records = list(run_selectors.runs_for_project(user=user, project=project).order_by("-created_at", "-id")[:MAX_RUNS])
    infos = [info for info in runs.run_infos(records) if info.found and info.status == "FINISHED"]
    analysed: list[TargetValues] = []
    for row in rows:
        if row.engineering:
            row.validation = Value(note="Measured by a benchmark, not on validation.")
            continue
        for info in infos:
            value = _logged_value(row.target, info)
            if value is not None:
                url = reverse("experiments:run", args=[project.slug, info.run_id])
                row.validation = _measured(row.target, value, source=_run_source(info), url=url,
                                           note="Logged by the run on its validation part.")
                break
        else:
            if analysis_metrics.metric_name(row.target.metric) is not None:
                analysed.append(row)
            else:
                row.validation = Value(note="No finished run logs it on validation.")
    if analysed:
        _analysed_values(project=project, infos=infos, rows=analysed)


def _analysed_values(*, project: Project, infos: list[runs.RunInfo], rows: list[TargetValues]) -> None:
    """Targets only the error analysis computes (a metric at an operating point, precision…), from
    the latest run with validation predictions, checked by the analysis's own target check."""
    for info in infos[:MAX_ANALYSED]:
        p = _predictions(project, info)
        if p is None:
            continue
        checks = {(c["metric"], c["condition"]): c for c in analysis_metrics.check_targets(p, [r.target for r in rows])}
        url = reverse("experiments:run_analysis", args=[project.slug, info.run_id])
        for row in rows:
            check = checks.get((row.target.metric, row.target.condition), {})
            row.validation = _measured(row.target, check.get("value"), source=f"error analysis of {_run_source(info)}",
                                       url=url, note=check.get("note", ""), met=check.get("passed"))
        return
    for row in rows:
        row.validation = Value(note="No recent finished run logged validation predictions to analyse."
                               if row.target.condition.strip() else "No finished run logs it on validation.")


# --- Sealed test ----------------------------------------------------------------------------------


def _sealed_values(*, user: AnyUser, project: Project, rows: list[TargetValues]) -> None:
    # The evaluations the user may open, and only finished ones: a requested, approved or running
    # evaluation shows no result on its own page (the job saves its aggregates before it is done).
    evaluation = evaluation_selectors.latest_done(user=user, project=project)
    for row in rows:
        if row.engineering:
            row.sealed = Value(note="Measured by a benchmark, not on the test split.")
        elif not policy.can(user=user, project=project, action=policy.VIEW_RUNS):
            row.sealed = Value(note="Your role does not include the project's experiments.")
        elif evaluation is None:
            row.sealed = Value(note="No finished sealed test evaluation.")
    if evaluation is None:
        return
    rows = [row for row in rows if not row.engineering]
    results = evaluation.results if isinstance(evaluation.results, dict) else {}
    checks = scoring.targets_check(targets=[row.target for row in rows], metrics=results)
    url = reverse("experiments:evaluation", args=[project.slug, evaluation.pk])
    source = f"test evaluation #{evaluation.pk} of {evaluation.run}"
    for row, check in zip(rows, checks, strict=True):
        if check["value"] is None:
            row.sealed = Value(note="The sealed evaluation does not compute this metric"
                               + (" at an operating point." if row.target.condition.strip() else "."))
        else:
            row.sealed = _measured(row.target, check["value"], source=source, url=url, met=check["met"])


# --- Benchmark -------------------------------------------------------------------------------------


def _benchmark_values(*, user: AnyUser, project: Project, rows: list[TargetValues]) -> None:
    benchmarks = list(
        benchmarks_for_project(user=user, project=project).filter(finished_at__isnull=False)
        .order_by("-finished_at", "-id")[:MAX_BENCHMARKS]
    )
    may_see = policy.can(user=user, project=project, action=policy.VIEW_DEPLOYMENTS)
    for row in rows:
        if not row.engineering:
            row.benchmark = Value(note="A benchmark measures latency, size, memory and throughput.")
            continue
        if not may_see:
            row.benchmark = Value(note="Your role does not include the project's deployments.")
            continue
        row.benchmark = Value(note="No finished benchmark." if not benchmarks else "")
        for benchmark in benchmarks:
            url = reverse("deployments:benchmark", args=[project.slug, benchmark.pk])
            check = target_checks.check(
                targets=[row.target], validation=None, validation_url="", sealed=None, sealed_url="",
                benchmark=benchmark.results if isinstance(benchmark.results, dict) else {}, benchmark_url=url,
            )[0]
            if check["value"] is not None:
                row.benchmark = _measured(row.target, check["value"], source=f"benchmark #{benchmark.pk} of "
                                          f"{benchmark.export}", url=url, met=check["met"])
                break
            row.benchmark = Value(note=check["note"] or "Not measured by the latest benchmarks.")


def target_values(*, user: AnyUser, project: Project) -> list[TargetValues]:
    """Each of the project's targets, in the page's order, with its values as `user` may see them."""
    targets = list(project.targets.all())
    rows = []
    for target in targets:
        measure = target_checks.measure_of(target)
        rows.append(TargetValues(target=target, engineering=measure is not None and measure.kind in _ENGINEERING))
    if rows:
        _validation_values(user=user, project=project, rows=rows)
        _sealed_values(user=user, project=project, rows=rows)
        _benchmark_values(user=user, project=project, rows=rows)
    return rows
