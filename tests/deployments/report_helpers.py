"""A project's evidence from its data to its deployment, and its stages approved up to a point: the
world of the experience report's tests (tests/deployments/test_experience_report.py and the browser
test tests/e2e/test_experience_report.py).

Exports, benchmarks, deployments and predictions are written as rows here: the jobs and services
that make them belong to other parts of the deployments app."""

from __future__ import annotations

from django.utils import timezone

from deployments.models import (
    Benchmark,
    Deployment,
    ExportState,
    ModelExport,
    Prediction,
    RolloutAction,
    RolloutEvent,
    Variant,
)
from experiments import mlflow_store
from experiments.models import EvaluationState, TestEvaluation
from projects import services as project_services
from projects.models import DELIVERABLE_ORDER, DeliverableState, Target
from tests.experiments.runs_helpers import logged_run
from tests.fixtures_annotation import make_version


def run_with_metrics(project, name: str, *, metrics: dict[str, float], trainer: str = "mlp"):
    """A finished MLflow run of the project as its trainer logs it, with these final metrics."""
    tags = {mlflow_store.TAG_KIND: trainer, mlflow_store.TAG_DATASET_VERSION: "digits@v1"}
    record = logged_run(project, name=name, tags=tags, train=[1.0, 0.5], val=[1.0, 0.6], finished=False)
    client = mlflow_store.client()
    for key, value in metrics.items():
        client.log_metric(record.mlflow_run_id, key, value)
    client.set_terminated(record.mlflow_run_id, status="FINISHED")
    return record


def evidence(project, *, predictions: int = 3):
    """What the project measured, from its data to its deployment: a baseline and two MLP runs, a
    sealed evaluation of the best, its exports (fp32, int8, one pending), a benchmark inside the
    targets and a deployment with a 10% canary that logged `predictions` predictions."""
    Target.objects.create(project=project, metric="accuracy", comparator=">=", threshold=0.9, is_primary=True)
    version = make_version(project, kind="image", slug="digits", count=4)
    baseline = run_with_metrics(project, "logreg seed 7", trainer="logistic_regression",
                                metrics={"val_accuracy": 0.8123})
    best = run_with_metrics(project, "mlp seed 7", metrics={"val_accuracy": 0.9456, "accuracy": 0.999})
    run_with_metrics(project, "mlp broken", metrics={"val_accuracy": 0.12})
    evaluation = TestEvaluation.objects.create(
        project=project, run=best, reason="final", state=EvaluationState.DONE, finished_at=timezone.now(),
        results={"items": 40, "accuracy": 0.925, "macro_f1": 0.9011, "targets": []},
    )
    fp32 = ModelExport.objects.create(
        project=project, run=best, state=ExportState.READY, opset=17, size_bytes=123_456, trainer="mlp",
        parity={"max_abs_diff": 2e-7, "agreement": 1.0, "items": 40}, metrics={"val_accuracy": 0.9456},
    )
    int8 = ModelExport.objects.create(
        project=project, run=best, base=fp32, variant=Variant.INT8_DYNAMIC, state=ExportState.READY, opset=17,
        parity={"max_abs_diff": 0.01, "agreement": 0.975}, metrics={"val_accuracy": 0.94, "accuracy_change": -0.0056},
    )
    pending = ModelExport.objects.create(project=project, run=best, state=ExportState.PENDING)
    benchmark = Benchmark.objects.create(
        project=project, export=fp32, finished_at=timezone.now(), results={"onnx": {"p95_ms": 1.2}},
        targets=[{"target": "latency_p95 ≤ 50 ms", "metric": "latency_p95", "value": 1.2, "met": True},
                 {"target": "model_size ≤ 1 MB", "metric": "model_size", "value": 0.12, "met": True}],
    )
    deployment = Deployment.objects.create(project=project, slug="digits-api", name="Digits API", stable=fp32,
                                           canary=int8, canary_percent=10)
    RolloutEvent.objects.create(deployment=deployment, action=RolloutAction.CANARY, stable=fp32, canary=int8,
                                canary_percent=10)
    Prediction.objects.bulk_create(
        Prediction(deployment=deployment, export=fp32, caller="c", label="7", score=0.9, latency_ms=1.0,
                   input={"secret": "production input"}, created_at=timezone.now())
        for _ in range(predictions)
    )
    return {"version": version, "baseline": baseline, "best": best, "evaluation": evaluation, "fp32": fp32,
            "int8": int8, "pending": pending, "benchmark": benchmark, "deployment": deployment}


def approve_until(project, actor, last: str) -> None:
    """Stages up to `last` approved as their reviews would leave them; their own checks (a
    datasheet, a baseline run, a survey…) are each stage's tests' business."""
    for kind in DELIVERABLE_ORDER[: DELIVERABLE_ORDER.index(last) + 1]:
        project_services.deliverable_move(
            deliverable=project.deliverables.get(kind=kind), to_state=DeliverableState.APPROVED, actor=actor
        )
