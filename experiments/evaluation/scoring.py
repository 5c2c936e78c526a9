"""Aggregates of a sealed test evaluation, and the project's targets checked against them.

Only aggregates leave the evaluation job. Class names come from the model (its training labels,
which the team already sees), never from the test part: a test label the model never saw is
counted under one bucket, UNSEEN, so a sealed label that is unique to the test part cannot appear
in a result. Accuracy and macro-F1 are scikit-learn's on the true labels (macro-F1 averages over
the classes present in the truth or the predictions, as the validation metrics do).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

UNSEEN = "(a class the model never saw)"

# Target metric names (as people write them on the project page) → the aggregate they mean.
_TARGET_METRICS = {
    "accuracy": "accuracy",
    "acc": "accuracy",
    "macro_f1": "macro_f1",
    "f1_macro": "macro_f1",
    "f1": "macro_f1",
    "macro_precision": "macro_precision",
    "precision": "macro_precision",
    "macro_recall": "macro_recall",
    "recall": "macro_recall",
}


def aggregates(*, classes: Sequence[str], truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro scores, per-class scores and the confusion matrix (rows: true class,
    columns: predicted class) over the model's classes, plus UNSEEN when the truth has others."""
    classes = [str(c) for c in classes]
    known = set(classes)
    truth = [str(t) for t in truth]
    predicted = [str(p) for p in predicted]
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=classes, zero_division=0
    )
    macro_p, macro_r, _, _ = precision_recall_fscore_support(truth, predicted, average="macro", zero_division=0)
    bucketed = [t if t in known else UNSEEN for t in truth]
    names = classes + ([UNSEEN] if UNSEEN in bucketed else [])
    matrix = confusion_matrix(bucketed, predicted, labels=names)
    return {
        "items": len(truth),
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        "macro_precision": float(macro_p),
        "macro_recall": float(macro_r),
        "class_names": names,
        "per_class": [
            {"class": name, "precision": float(p), "recall": float(r), "f1": float(s), "support": int(n)}
            for name, p, r, s, n in zip(classes, precision, recall, f1, support, strict=True)
        ],
        "unseen_items": sum(1 for t in bucketed if t == UNSEEN),
        "confusion": matrix.tolist(),
    }


def _metric_key(name: str) -> str | None:
    return _TARGET_METRICS.get(name.strip().lower().replace("-", "_").replace(" ", "_"))


def targets_check(*, targets: Iterable[Any], metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the test value of its metric and whether it is met. A target this
    evaluation does not measure (latency, a metric at an operating point…) is listed with met None."""
    rows = []
    for target in targets:
        key = None if target.condition else _metric_key(target.metric)
        value = metrics.get(key) if key else None
        measured = isinstance(value, int | float) and math.isfinite(value)
        rows.append(
            {
                "target": str(target),
                "metric": target.metric,
                "primary": bool(target.is_primary),
                "value": float(value) if measured else None,
                "met": bool(target.is_met_by(float(value))) if measured else None,
            }
        )
    return rows


MLFLOW_METRICS = ("accuracy", "macro_f1", "macro_precision", "macro_recall", "items")


def mlflow_metrics(results: dict[str, Any]) -> dict[str, float]:
    """What the run records in MLflow: `test_*` aggregates only (no class names in keys)."""
    return {f"test_{name}": float(results[name]) for name in MLFLOW_METRICS}


def metric_key_of(target_metric: str) -> str | None:
    """The metric a target names (accuracy, macro_f1…) as this module's results call it, or None
    for a target no classification metric measures. The runs table reads `val_<key>` by it."""
    return _metric_key(target_metric)
