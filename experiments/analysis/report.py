"""One run's analysis, and two runs' comparison, as the pages and the API both show them. The caller
has authorised the user for the runs (experiments.selectors.run_get)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache

from datasets.models import DatasetVersion
from experiments import runs
from experiments.analysis import metrics, reading
from experiments.analysis.metrics import Predictions, PredictionsError
from experiments.models import Run
from projects.models import Project


@dataclass
class RunAnalysis:
    info: runs.RunInfo
    version: DatasetVersion | None = None
    predictions: Predictions | None = None
    # Why there is no analysis (no predictions logged, an unreadable file); empty when there is one.
    problem: str = ""
    unreadable: bool = False  # a predictions file was found but is not the predictions format
    sealed_dropped: int = 0
    result: dict[str, Any] = field(default_factory=dict)


def _computed(record: Run, p: Predictions, sealed_dropped: int, mistakes: int) -> dict[str, Any]:
    """The targets-free part of the analysis, cached per run like its predictions."""
    key = f"analysis:result:v1:{record.mlflow_run_id}:{sealed_dropped}:{mistakes}"
    result = cache.get(key)
    if result is None:
        result = metrics.analyse(p, (), mistakes)
        cache.set(key, result, reading.CACHE_SECONDS)
    return result


def run_analysis(*, project: Project, record: Run, mistakes: int = metrics.MISTAKES) -> RunAnalysis:
    info = runs.run_info(record)
    analysis = RunAnalysis(info=info, version=reading.version_of(project, info))
    try:
        p = reading.predictions_for(record)
    except (reading.NoPredictions, PredictionsError) as exc:
        analysis.problem = str(exc)
        analysis.unreadable = isinstance(exc, PredictionsError)
        return analysis
    p, analysis.sealed_dropped = reading.without_sealed(p, analysis.version)
    analysis.predictions = p
    # Targets can be edited at any time: they are checked afresh on every view.
    analysis.result = {
        **_computed(record, p, analysis.sealed_dropped, mistakes),
        "targets": metrics.check_targets(p, reading.targets_of(project)),
    }
    return analysis


def slice_rows(analysis: RunAnalysis, column: str) -> list[dict[str, Any]] | None:
    """The slices of `column`, or None when the run's version has no such column."""
    p, version = analysis.predictions, analysis.version
    if p is None or version is None or column not in reading.slice_columns(version):
        return None
    values = reading.column_values(version, p.keys, column)
    return metrics.slices(p, values.values)


@dataclass
class Comparison:
    a: RunAnalysis
    b: RunAnalysis
    problem: str = ""
    result: dict[str, Any] = field(default_factory=dict)


def compare_runs(*, project: Project, a: Run, b: Run) -> Comparison:
    first, second = run_analysis(project=project, record=a), run_analysis(project=project, record=b)
    comparison = Comparison(first, second)
    missing = [x for x in (first, second) if x.predictions is None]
    if missing:
        comparison.problem = f"{missing[0].info.name}: {missing[0].problem}"
        return comparison
    comparison.result = metrics.compare(first.predictions, second.predictions)
    if not comparison.result["common"]:
        comparison.problem = (
            "The two runs share no validation item with the same label: compare runs validated on the same "
            "dataset version and split."
        )
    return comparison
