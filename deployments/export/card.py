"""The model card of an fp32 export, generated from what the platform knows about its run.

Every number on the card is stored as {"value": …, "url": …}: the page it was read from (the run's
page for what MLflow recorded, the export's page for the ONNX model's own numbers, the sealed
evaluation's page, the benchmark's page, the error analysis, the project page), so a reader can
check it at its source. Sealed results are aggregates only, as their evaluation stores them.

The card is built when the export is made and again when a benchmark of it finishes (its
engineering targets change then). Built on read from the stored rows, it never depends on what a
job held in memory.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone

from deployments import targets as target_checks
from deployments.models import Benchmark, ModelExport
from experiments import mlflow_store, runs
from experiments.models import EvaluationState, TestEvaluation

CARD_FORMAT = 1
FAILURE_PAIRS = 3
WEAKEST_CLASSES = 3
# The run's validation metrics shown on the card, in this order, when MLflow has them.
VALIDATION_METRICS = (
    ("val_accuracy", "Validation accuracy"),
    ("val_macro_f1", "Validation macro-F1"),
    ("val_loss", "Validation loss"),
)


def number(value: Any, url: str) -> dict[str, Any]:
    return {"value": value, "url": url}


def export_url(export: ModelExport) -> str:
    return reverse("deployments:export", args=[export.project.slug, export.pk])


def benchmark_url(benchmark: Benchmark) -> str:
    return reverse("deployments:benchmark", args=[benchmark.project.slug, benchmark.pk])


def latest_sealed(run) -> TestEvaluation | None:
    """The run's latest finished sealed test evaluation (aggregates only), or None."""
    return TestEvaluation.objects.filter(run=run, state=EvaluationState.DONE).order_by("-finished_at", "-id").first()


def latest_benchmark(export: ModelExport) -> Benchmark | None:
    return Benchmark.objects.filter(export=export, finished_at__isnull=False).order_by("-finished_at", "-id").first()


def sealed_numbers(evaluation: TestEvaluation | None) -> dict[str, float] | None:
    if evaluation is None:
        return None
    results = evaluation.results or {}
    return {"accuracy": results.get("accuracy"), "macro_f1": results.get("macro_f1")}


def onnx_validation(export: ModelExport) -> dict[str, float] | None:
    metrics = export.metrics or {}
    if metrics.get("val_accuracy") is None:
        return None
    return {"accuracy": metrics.get("val_accuracy"), "macro_f1": metrics.get("val_macro_f1")}


def _version_url(project, ref: str, fallback: str) -> str:
    from datasets.models import DatasetVersion

    parts = runs.version_ref_parts(ref)
    if parts and DatasetVersion.objects.filter(dataset__project=project, dataset__slug=parts[0],
                                               number=parts[1]).exists():
        return reverse("datasets:version", args=[project.slug, parts[0], parts[1]])
    return fallback


def _failure_modes(export: ModelExport, run_url: str) -> dict[str, Any]:
    """The most confused class pairs of the run's error analysis (its validation predictions);
    without one, the classes the ONNX model recalls worst on validation."""
    from experiments.analysis.report import run_analysis

    project, run = export.project, export.run
    analysis_url = reverse("experiments:run_analysis", args=[project.slug, run.mlflow_run_id])
    try:
        analysis = run_analysis(project=project, record=run)
    except Exception:  # noqa: BLE001 - a card is still worth having without the analysis
        analysis = None
    if analysis is not None and analysis.result:
        confusion = analysis.result.get("confusion") or {}
        labels, matrix = confusion.get("labels") or [], confusion.get("matrix") or []
        pairs = sorted(
            ((matrix[i][j], labels[i], labels[j]) for i in range(len(matrix)) for j in range(len(matrix[i]))
             if i != j and matrix[i][j] > 0),
            key=lambda pair: (-pair[0], pair[1], pair[2]),
        )[:FAILURE_PAIRS]
        weakest = sorted(analysis.result.get("per_class") or [], key=lambda c: (c["recall"], c["label"]))
        return {
            "source": "error analysis of the run's validation predictions",
            "url": analysis_url,
            "confused_pairs": [
                {"true": true, "predicted": predicted, "count": number(int(count), analysis_url)}
                for count, true, predicted in pairs
            ],
            "weakest_classes": [
                {"class": c["label"], "recall": number(c["recall"], analysis_url),
                 "support": number(c["support"], analysis_url)}
                for c in weakest[:WEAKEST_CLASSES]
            ],
        }
    url = export_url(export)
    per_class = sorted((export.metrics or {}).get("per_class") or [], key=lambda c: (c["recall"], c["class"]))
    return {
        "source": "per-class recall of the ONNX model on validation (the run has no error analysis)",
        "url": url,
        "confused_pairs": [],
        "weakest_classes": [
            {"class": c["class"], "recall": number(c["recall"], url), "support": number(c["support"], url)}
            for c in per_class[:WEAKEST_CLASSES]
        ],
    }


def build(export: ModelExport) -> dict[str, Any]:
    """The card of an fp32 export (READY or about to be), from the stored rows and MLflow."""
    project, run = export.project, export.run
    run_url = reverse("experiments:run", args=[project.slug, run.mlflow_run_id])
    project_url = reverse("projects:detail", args=[project.slug])
    own_url = export_url(export)
    mlflow_run = mlflow_store.client().get_run(run.mlflow_run_id)
    tags, metrics = mlflow_run.data.tags, mlflow_run.data.metrics
    dataset_ref = tags.get(mlflow_store.TAG_DATASET_VERSION, "")
    label_ref = tags.get(mlflow_store.TAG_LABEL_VERSION, "")

    evaluation = latest_sealed(run)
    sealed = None
    if evaluation is not None:
        evaluation_url = reverse("experiments:evaluation", args=[project.slug, evaluation.pk])
        results = evaluation.results or {}
        sealed = {
            "evaluation": evaluation.pk,
            "url": evaluation_url,
            "accuracy": number(results.get("accuracy"), evaluation_url),
            "macro_f1": number(results.get("macro_f1"), evaluation_url),
            "items": number(results.get("items"), evaluation_url),
        }
    benchmark = latest_benchmark(export)
    checked = target_checks.check(
        targets=project.targets.all(),
        validation=onnx_validation(export), validation_url=own_url,
        sealed=sealed_numbers(evaluation), sealed_url=sealed["url"] if sealed else "",
        benchmark=benchmark.results if benchmark else None,
        benchmark_url=benchmark_url(benchmark) if benchmark else "",
    )
    export_metrics = export.metrics or {}
    parity = export.parity or {}
    return {
        "format": CARD_FORMAT,
        "generated_at": timezone.now().isoformat(),
        "model": {
            "trainer": export.trainer,
            "run": {"id": run.mlflow_run_id, "name": run.name, "url": run_url},
            "export": {"id": export.pk, "url": own_url},
            "opset": number(export.opset, own_url),
            "size_bytes": number(export.size_bytes, own_url),
            "sha256": export.sha256,
            "model_version": export.model_version,
        },
        "provenance": {
            "dataset_version": {"value": dataset_ref, "url": _version_url(project, dataset_ref, run_url)},
            "label_version": {"value": label_ref, "url": _version_url(project, label_ref, run_url)},
            "code_version": {"value": tags.get(mlflow_store.TAG_CODE_VERSION, ""), "url": run_url},
            "seed": {"value": tags.get(mlflow_store.TAG_SEED, ""), "url": run_url},
        },
        "validation": [
            {"metric": key, "label": label, **number(float(metrics[key]), run_url)}
            for key, label in VALIDATION_METRICS if key in metrics
        ] + [
            {"metric": f"onnx_{key}", "label": f"{label} of the ONNX model", **number(export_metrics[key], own_url)}
            for key, label in VALIDATION_METRICS[:2] if export_metrics.get(key) is not None
        ],
        "parity": {
            "max_abs_diff": number(parity.get("max_abs_diff"), own_url),
            "agreement": number(parity.get("agreement"), own_url),
            "items": number(parity.get("items"), own_url),
            "tolerance": number(parity.get("tolerance"), own_url),
        },
        "sealed": sealed,
        "benchmark": {"id": benchmark.pk, "url": benchmark_url(benchmark)} if benchmark else None,
        "targets": checked,
        "intended_use": {
            "problem_statement": project.problem_statement,
            "ml_role": project.ml_role,
            "url": project_url,
        },
        "failure_modes": _failure_modes(export, run_url),
    }
