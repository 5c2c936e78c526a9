"""Deployments with logged predictions for the drift and loop-back tests, made without the export
job or the prediction endpoint (each has its own tests): a READY export row with the input schema
the export contract describes, a deployment serving it, and prediction rows written in bulk as
the prediction log writes them (stats under every privacy setting, the input only under "store")."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.utils import timezone

from datasets import services as dataset_services
from deployments.drift.stats import input_stats
from deployments.models import Deployment, DriftReport, ExportState, ModelExport, Prediction
from experiments import mlflow_store
from tests.deployments.serving_helpers import schema as digits_schema
from tests.experiments.runs_helpers import logged_run


def digits_version(project, lead):
    """scikit-learn's digits as version 1 of the dataset "digits", written by its job in this
    process, and split (train, validation and the sealed test part)."""
    from tests.experiments.test_inputs import _sklearn_version

    version = _sklearn_version(project, lead, "digits", "image")
    dataset_services.split_create(version=version, actor=lead, seed=3)
    return version


def ready_export(project, *, version_ref: str = "digits@v1", schema: dict | None = None,
                 metrics: dict | None = None) -> ModelExport:
    """A ready export of a run trained on `version_ref` (the run's MLflow dataset-version tag)."""
    run = logged_run(project, name="deployed run", tags={mlflow_store.TAG_DATASET_VERSION: version_ref,
                                                         mlflow_store.TAG_KIND: "mlp"})
    return ModelExport.objects.create(
        project=project, run=run, state=ExportState.READY, trainer="mlp", opset=17, sha256="0" * 64,
        input_schema=schema or digits_schema(), metrics=metrics or {},
    )


def deployment(project, *, slug: str = "digits-live", name: str = "Digits live", export=None) -> Deployment:
    return Deployment.objects.create(project=project, slug=slug, name=name, stable=export or ready_export(project))


def log_predictions(deployment: Deployment, rows, labels, scores, *, kept: str = "store",
                    minutes_ago: int = 60) -> list[Prediction]:
    """One prediction per row, the oldest first, a second apart, ending `minutes_ago` minutes ago;
    the input kept as the privacy setting `kept` (store, hash, drop) says."""
    schema = deployment.stable.input_schema
    start = timezone.now() - timedelta(minutes=minutes_ago, seconds=len(rows))
    made = []
    for index, (row, label, score) in enumerate(zip(rows, labels, scores, strict=True)):
        plain = row if isinstance(row, str) else [float(v) for v in np.asarray(row).reshape(-1)]
        made.append(Prediction(
            deployment=deployment, export=deployment.stable, caller="c0ffee", label=str(label), score=float(score),
            latency_ms=1.0, input_hash="" if kept == "drop" else "ab" * 32, input=plain if kept == "store" else None,
            stats=input_stats(schema=schema, row=plain), created_at=start + timedelta(seconds=index),
        ))
    return Prediction.objects.bulk_create(made)


def drift_report(deployment: Deployment, *, drifted: bool, psi: float, feature: str = "mean",
                 edges: list[float] | None = None, hours_ago: int = 0) -> DriftReport:
    """A stored report as a check would write it (bins included), for pages and the loop back."""
    edges = edges if edges is not None else [20.0, 25.0, 30.0]
    report = DriftReport.objects.create(
        deployment=deployment, export=deployment.stable, window={"predictions": 120, "days": 7, "limit": 5000},
        features={feature: {"psi": psi, "source": "stats", "edges": edges, "expected": [0.25] * 4,
                            "actual": [0.1, 0.1, 0.1, 0.7], "values": 120}},
        prediction_psi=psi / 2, prediction_shares={}, mean_confidence=0.8, threshold=0.2,
        worst=feature, worst_psi=psi, drifted=drifted,
    )
    if hours_ago:
        DriftReport.objects.filter(pk=report.pk).update(created_at=timezone.now() - timedelta(hours=hours_ago))
        report.refresh_from_db()
    return report
