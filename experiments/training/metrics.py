"""Validation metrics shared by every trainer, computed the same way for baselines and torch models
so a baseline's numbers and a network's numbers on one run page are comparable.

Cross-entropy is computed from probabilities clipped at 1e-15 (scikit-learn's old log_loss
convention): a majority baseline gives probability 0 to classes it never saw, and an infinite loss
would break every chart. Macro-F1 averages over the classes present in the truth or the
predictions (scikit-learn's default) so classes absent from a small validation split do not count
as zero.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

EPS = 1e-15


def cross_entropy(proba: np.ndarray, y: np.ndarray) -> float:
    picked = np.clip(proba[np.arange(len(y)), y], EPS, 1.0)
    return float(-np.mean(np.log(picked)))


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(pred == y))


def macro_f1(pred: np.ndarray, y: np.ndarray) -> float:
    return float(f1_score(y, pred, average="macro", zero_division=0))


def validation_metrics(proba: np.ndarray, y: np.ndarray) -> dict[str, float]:
    pred = np.argmax(proba, axis=1)
    return {
        "val_loss": cross_entropy(proba, y),
        "val_accuracy": accuracy(pred, y),
        "val_macro_f1": macro_f1(pred, y),
    }
