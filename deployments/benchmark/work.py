"""The benchmark job's work, plain Python tested without Celery: measure the export and the run's
original model (deployments/benchmark/measure.py), check the project's targets against the numbers,
store both, and bring the export's model card up to date with them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.urls import reverse

from deployments import onnx_files
from deployments import targets as target_checks
from deployments.benchmark import measure, services
from deployments.export import card as model_card
from deployments.export import selectors as export_selectors
from deployments.export import services as export_services
from deployments.models import Benchmark
from experiments.evaluation.recipe import RecipeError, recipe_for

Progress = Callable[[float, str], None]
logger = logging.getLogger(__name__)


class BenchmarkFailed(Exception):
    """The benchmark cannot be run; the message is ours, for people."""


def targets_for(*, benchmark: Benchmark, results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each project target met or missed: engineering ones from these numbers, accuracy ones from
    the benchmarked model's validation accuracy (or the run's sealed test result), the rest not
    measured."""
    export, project = benchmark.export, benchmark.project
    evaluation = model_card.latest_sealed(export.run)
    return target_checks.check(
        targets=project.targets.all(),
        validation=model_card.onnx_validation(export), validation_url=model_card.export_url(export),
        sealed=model_card.sealed_numbers(evaluation),
        sealed_url=reverse("experiments:evaluation", args=[project.slug, evaluation.pk]) if evaluation else "",
        benchmark=results, benchmark_url=reverse("deployments:benchmark", args=[project.slug, benchmark.pk]),
    )


def benchmark_run(*, benchmark: Benchmark, progress: Progress) -> dict[str, Any]:
    export = benchmark.export
    try:
        data = export_selectors.export_bytes(export=export)
        recipe = recipe_for(run=export.run)
    except (onnx_files.OnnxFileError, RecipeError) as exc:
        raise BenchmarkFailed(str(exc)) from None
    results = measure.benchmark_export(data=data, schema=export.input_schema, recipe=recipe,
                                       options=benchmark.options, progress=progress)
    progress(90, "Checking the project's targets")
    services.benchmark_results_save(benchmark=benchmark, results=results,
                                    targets=targets_for(benchmark=benchmark, results=results))
    try:
        export_services.export_card_refresh(export=export.base or export)
    except Exception:  # noqa: BLE001 - the benchmark stands without the card's refresh
        logger.exception("the card of export %s was not refreshed after benchmark %s", export.pk, benchmark.pk)
    return {"benchmark": benchmark.pk}
