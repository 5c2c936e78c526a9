"""One drift check: the stable export's recent predictions (the window) against its training
reference, feature by feature, statistic by statistic, and by predicted label and confidence.

Statistics every prediction keeps (Prediction.stats: an image's intensity mean and spread, a
text's length) are measured under every privacy setting; features read from the input itself
(a tabular model's columns) only where the inputs are stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone

from deployments.drift import stats, stored
from deployments.drift.reference import Reference, reference_for
from deployments.models import Deployment, Prediction

Progress = Callable[[float, str], None]
PREDICTIONS = "predictions"  # the name the prediction distribution's PSI goes by beside the features


@dataclass
class Window:
    predictions: list[Prediction]
    days: int
    limit: int

    def summary(self) -> dict[str, Any]:
        times = [p.created_at for p in self.predictions]
        return {
            "predictions": len(self.predictions), "days": self.days, "limit": self.limit,
            "first": min(times).isoformat() if times else None, "last": max(times).isoformat() if times else None,
        }


def window_for(deployment: Deployment) -> Window:
    """The stable export's latest predictions: at most PRAKRIYA_DRIFT_WINDOW_PREDICTIONS, none
    older than PRAKRIYA_DRIFT_WINDOW_DAYS (a canary's answers come from another model)."""
    days, limit = settings.PRAKRIYA_DRIFT_WINDOW_DAYS, settings.PRAKRIYA_DRIFT_WINDOW_PREDICTIONS
    since = timezone.now() - timedelta(days=days)
    rows = (
        Prediction.objects.filter(deployment=deployment, export_id=deployment.stable_id, created_at__gte=since)
        .order_by("-created_at", "-id")
        .only("id", "label", "score", "stats", "input", "created_at")[:limit]
    )
    return Window(predictions=list(rows), days=days, limit=limit)


def feature_value(schema: dict, name: str, source: str, prediction: Prediction, names: list[str]) -> float | None:
    """A prediction's value of one feature or statistic, None when it has none (a statistic the
    serving side did not record and no stored input to compute it from; a feature of an input
    that was not stored)."""
    if source == "stats":
        value = (prediction.stats or {}).get(name)
        if value is None and prediction.input is not None:
            row = stored.prepared_row(schema, prediction.input)
            value = stats.input_stats(schema=schema, row=row).get(name) if row is not None else None
        try:
            value = float(value) if value is not None else None
        except (TypeError, ValueError):
            return None
        return value if value is not None and np.isfinite(value) else None
    if prediction.input is None:
        return None
    row = stored.prepared_row(schema, prediction.input)
    if row is None or isinstance(row, str) or name not in names:
        return None
    value = float(row[names.index(name)])
    return value if np.isfinite(value) else None


def _tabular_rows(schema: dict, predictions: list[Prediction]) -> dict[int, np.ndarray]:
    rows = {}
    for p in predictions:
        if p.input is not None:
            row = stored.prepared_row(schema, p.input)
            if isinstance(row, np.ndarray):
                rows[p.pk] = row
    return rows


def measure(*, deployment: Deployment, progress: Progress, reference: Reference | None = None) -> dict[str, Any]:
    """The report's fields, or {"skipped": why} when the window holds too few predictions."""
    export = deployment.stable
    schema = export.input_schema or {}
    progress(5, "Reading the recent predictions")
    window = window_for(deployment)
    minimum = settings.PRAKRIYA_DRIFT_MIN_PREDICTIONS
    if len(window.predictions) < minimum:
        return {"skipped": f"{len(window.predictions)} predictions by the stable export in the last "
                f"{window.days} days; a drift check needs at least {minimum}."}
    progress(15, "Summarising the training part of the run's dataset version")
    reference = reference or reference_for(export)
    progress(60, f"Comparing {len(window.predictions)} predictions with {reference.train_items} training items")
    features: dict[str, dict] = {}
    names = list(reference.features)
    rows = _tabular_rows(schema, window.predictions) if reference.kind == "tabular" else {}
    for index, (name, ref) in enumerate(reference.features.items()):
        if ref["source"] == "input":
            values = [float(rows[p.pk][index]) for p in window.predictions if p.pk in rows]
        else:
            values = [v for p in window.predictions
                      if (v := feature_value(schema, name, "stats", p, names)) is not None]
        if len(values) < minimum:
            continue  # inputs not stored, or statistics not recorded: nothing to measure this on
        actual = stats.bin_shares(values, ref["edges"])
        features[name] = {
            "psi": round(stats.psi(ref["shares"], actual), 6), "source": ref["source"], "edges": ref["edges"],
            "expected": ref["shares"], "actual": actual, "values": len(values),
        }
    labels = [p.label for p in window.predictions]
    actual_labels = stats.category_shares(labels, reference.classes)
    prediction_psi = round(stats.psi(reference.label_shares, actual_labels), 6) if reference.classes else None
    scores = [p.score for p in window.predictions if p.score is not None and np.isfinite(p.score)]
    reference_confidence = (export.metrics or {}).get("val_mean_confidence")
    candidates = {name: f["psi"] for name, f in features.items()}
    if prediction_psi is not None:
        candidates[PREDICTIONS] = prediction_psi
    worst = max(candidates, key=lambda name: (candidates[name], name)) if candidates else ""
    threshold = settings.PRAKRIYA_DRIFT_PSI_THRESHOLD
    return {
        "window": window.summary(),
        "features": features,
        "prediction_psi": prediction_psi,
        "prediction_shares": {"classes": reference.classes, "expected": reference.label_shares, "actual": actual_labels},
        "mean_confidence": round(float(np.mean(scores)), 6) if scores else None,
        "reference_confidence": float(reference_confidence) if isinstance(reference_confidence, (int, float)) else None,
        "reference_version": reference.version,
        "worst": worst,
        "worst_psi": candidates.get(worst),
        "threshold": threshold,
        "drifted": bool(candidates) and candidates[worst] > threshold,
    }
