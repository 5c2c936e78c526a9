"""What a run's validation predictions say: confusion, per-class metrics, precision at an operating
point, checks against the project's targets, the most confident mistakes, slices and the comparison
of two runs. Plain functions over a Predictions; the arithmetic is scikit-learn's.

Labels are compared as text: a payload written by an MLflow client may carry numbers where the
platform's jobs write strings. Per-class metrics and macro-F1 cover the classes present in the truth
or the predictions (scikit-learn's default, and how the training job logs val_macro_f1), so a class
the model knows but the validation part lacks does not count as a zero.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import (
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_recall_fscore_support,
)

MISTAKES = 12
EXAMPLES = 12
SLICE_BUCKETS = 4  # numeric columns are cut into quartiles
MAX_SLICE_VALUES = 20  # a text column's rarer values are pooled as "(other)"
MISSING = "(missing)"
OTHER = "(other)"


class PredictionsError(ValueError):
    """The payload is not the predictions format (the message says what is wrong)."""


@dataclass(frozen=True)
class Predictions:
    classes: list[str]
    keys: list[str]
    labels: np.ndarray  # true labels, as text
    proba: np.ndarray  # one row per item, one column per class

    @property
    def predicted(self) -> np.ndarray:
        return np.asarray(self.classes, dtype=object)[np.argmax(self.proba, axis=1)] if len(self) else self.labels[:0]

    @property
    def confidence(self) -> np.ndarray:
        return np.max(self.proba, axis=1) if len(self) else np.zeros(0)

    @property
    def correct(self) -> np.ndarray:
        return self.predicted == self.labels

    def __len__(self) -> int:
        return len(self.keys)

    def subset(self, rows: Sequence[int] | np.ndarray) -> Predictions:
        rows = np.asarray(rows, dtype=int)
        return Predictions(self.classes, [self.keys[i] for i in rows], self.labels[rows], self.proba[rows])

    def present_labels(self) -> list[str]:
        """The classes in the truth or the predictions, the model's classes first, in its order."""
        seen = set(self.labels.tolist()) | set(self.predicted.tolist())
        return [c for c in self.classes if c in seen] + sorted(seen - set(self.classes))


def parse_predictions(payload: Any) -> Predictions:
    """The predictions of `payload` ({"classes", "keys", "labels", "probabilities"}), checked."""
    if not isinstance(payload, dict):
        raise PredictionsError("The predictions file is not a JSON object.")
    missing = [f for f in ("classes", "keys", "labels", "probabilities") if not isinstance(payload.get(f), list)]
    if missing:
        raise PredictionsError(f"The predictions file has no list {missing[0]!r}.")
    classes = [str(c) for c in payload["classes"]]
    if not classes or len(set(classes)) != len(classes):
        raise PredictionsError("The predictions file names no classes, or names one twice.")
    keys, labels, rows = payload["keys"], payload["labels"], payload["probabilities"]
    if not len(keys) == len(labels) == len(rows):
        raise PredictionsError(
            f"The predictions file has {len(keys)} keys, {len(labels)} labels and {len(rows)} rows of probabilities."
        )
    if len(set(map(str, keys))) != len(keys):
        raise PredictionsError("The predictions file names an item twice.")
    try:
        proba = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(classes))
    except (TypeError, ValueError):
        raise PredictionsError(f"Each row of probabilities must hold {len(classes)} numbers.") from None
    if not np.isfinite(proba).all():
        raise PredictionsError("The probabilities must be finite numbers.")
    return Predictions(classes, [str(k) for k in keys], np.asarray([str(v) for v in labels], dtype=object), proba)


# --- Whole-run metrics ----------------------------------------------------------------------------


def per_class(p: Predictions) -> list[dict[str, Any]]:
    labels = p.present_labels()
    if not labels:
        return []
    precision, recall, f1, support = precision_recall_fscore_support(
        p.labels, p.predicted, labels=labels, zero_division=0
    )
    return [
        {"label": label, "precision": float(pr), "recall": float(rc), "f1": float(f), "support": int(s)}
        for label, pr, rc, f, s in zip(labels, precision, recall, f1, support, strict=True)
    ]


def confusion(p: Predictions) -> dict[str, Any]:
    """Rows are the true classes, columns the predicted ones."""
    labels = p.present_labels()
    matrix = confusion_matrix(p.labels, p.predicted, labels=labels) if labels else np.zeros((0, 0), int)
    return {"labels": labels, "matrix": matrix.astype(int).tolist()}


def headline(p: Predictions) -> dict[str, float | int | None]:
    if not len(p):
        return {"count": 0, "accuracy": None, "macro_f1": None}
    return {
        "count": len(p),
        "accuracy": float(np.mean(p.correct)),
        "macro_f1": float(f1_score(p.labels, p.predicted, average="macro", zero_division=0)),
    }


def is_binary(p: Predictions) -> bool:
    return len(p.classes) == 2


def positive_class(p: Predictions, named: str | None = None) -> str:
    """The class a binary task's precision and recall are about: the named one, else the model's
    second class (scikit-learn's convention: 1 of 0/1, "yes" of "no"/"yes")."""
    if named is not None:
        match = [c for c in p.classes if c.casefold() == named.casefold()]
        if not match:
            raise PredictionsError(f"The model has no class {named!r}.")
        return match[0]
    return p.classes[1]


# --- Operating points -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OperatingPoint:
    kind: str  # "coverage" | "recall"
    value: float  # a fraction in (0, 1]
    positive: str | None = None  # the class a recall is of, when the condition names one

    def __str__(self) -> str:
        of = f" of {self.positive}" if self.positive else ""
        return f"{self.value:.0%} {self.kind}{of}"


_NUMBER = r"(?P<{}>\d+(?:\.\d+)?|\.\d+)\s*(?P<{}>%)?"
_CONDITION = re.compile(
    r"^\s*at\s+(?:"
    + _NUMBER.format("n1", "pct1") + r"\s*(?P<k1>recall|coverage)"
    + r"|(?P<k2>recall|coverage)\s*(?:of\s+|=\s*|:\s*)?" + _NUMBER.format("n2", "pct2")
    + r")(?:\s+(?:for|of)\s+(?:class\s+)?(?P<cls>\S.*?))?\s*$",
    re.IGNORECASE,
)


def parse_condition(text: str) -> OperatingPoint | None:
    """The operating point a target's condition names: "at recall 0.9", "at 90% recall",
    "at 20% coverage", "at coverage 0.2", optionally "… for <class>"; None if it names none.
    A bare number above 1 ("at recall 90") is ambiguous and is not read as a percentage."""
    match = _CONDITION.match(text or "")
    if match is None:
        return None
    kind = (match["k1"] or match["k2"]).lower()
    number, percent = (match["n1"], match["pct1"]) if match["n1"] is not None else (match["n2"], match["pct2"])
    value = float(number) / 100 if percent else float(number)
    if not 0 < value <= 1:
        return None
    return OperatingPoint(kind, value, (match["cls"] or "").strip().strip("'\"") or None)


def precision_at(p: Predictions, point: OperatingPoint) -> dict[str, Any]:
    """Precision at the operating point: {"value", "answered", "threshold", "note"}; value None
    (with the reason in note) when the point cannot be reached."""
    n = len(p)
    if not n:
        return {"value": None, "answered": 0, "threshold": None, "note": "No predictions."}
    order = np.argsort(-p.confidence, kind="stable")
    if point.kind == "coverage":
        k = max(1, math.ceil(point.value * n - 1e-9))
        answered = p.correct[order[:k]]
        return {
            "value": float(answered.mean()), "answered": k, "threshold": float(p.confidence[order[k - 1]]),
            "note": f"Precision over the {k} most confident of {n} items (the model answers {k / n:.0%}).",
        }
    if is_binary(p):
        return _binary_precision_at_recall(p, point)
    # Several classes have no single positive class: rank by confidence and keep answering until
    # the answered items hold the asked share of all the correct answers.
    if point.positive:
        return {"value": None, "answered": 0, "threshold": None,
                "note": "A recall of one class is defined for a two-class task only."}
    total = int(p.correct.sum())
    if total == 0:
        return {"value": None, "answered": 0, "threshold": None, "note": "The model gets no item right."}
    found = np.cumsum(p.correct[order])
    k = int(np.searchsorted(found, math.ceil(point.value * total - 1e-9))) + 1
    return {
        "value": float(found[k - 1] / k), "answered": k, "threshold": float(p.confidence[order[k - 1]]),
        "note": (
            f"{len(p.classes)} classes: items are ranked by confidence and the {k} most confident are "
            f"answered, which holds {point.value:.0%} of the {total} correct answers; precision is the "
            "share of answered items that are right."
        ),
    }


def _binary_precision_at_recall(p: Predictions, point: OperatingPoint) -> dict[str, Any]:
    try:
        positive = positive_class(p, point.positive)
    except PredictionsError as exc:
        return {"value": None, "answered": 0, "threshold": None, "note": str(exc)}
    truth = p.labels == positive
    if not truth.any():
        return {"value": None, "answered": 0, "threshold": None,
                "note": f"No validation item is {positive!r}: recall is undefined."}
    scores = p.proba[:, p.classes.index(positive)]
    precision, recall, thresholds = precision_recall_curve(truth, scores)
    # Recall falls as the threshold rises: the highest threshold still reaching the asked recall.
    reaching = np.nonzero(recall[:-1] >= point.value - 1e-12)[0]
    i = int(reaching[-1])
    answered = int((scores >= thresholds[i]).sum())
    return {
        "value": float(precision[i]), "answered": answered, "threshold": float(thresholds[i]),
        "note": (
            f"Precision of {positive!r} at the highest threshold on its probability "
            f"({thresholds[i]:.3g}) that finds {recall[i]:.0%} of its {int(truth.sum())} items."
        ),
    }


# --- Targets ----------------------------------------------------------------------------------------

# Target metric names (normalised: lower case, "_" for spaces and dashes, no "val_" prefix) the
# analysis computes.
_METRICS: dict[str, str] = {
    "accuracy": "accuracy", "acc": "accuracy",
    "macro_f1": "macro_f1", "f1_macro": "macro_f1", "macro_f1_score": "macro_f1",
    "precision": "precision", "recall": "recall", "f1": "f1", "f1_score": "f1",
    "error_rate": "error_rate",
}


def metric_name(metric: str) -> str | None:
    name = re.sub(r"[\s\-]+", "_", metric.strip().lower())
    name = re.sub(r"^(val|validation)_", "", name)
    return _METRICS.get(name)


def _plain_metric(p: Predictions, name: str) -> tuple[float, str]:
    head = headline(p)
    if name == "accuracy":
        return head["accuracy"], ""
    if name == "error_rate":
        return 1 - head["accuracy"], ""
    if name == "macro_f1":
        return head["macro_f1"], ""
    index = {"precision": 0, "recall": 1, "f1": 2}[name]
    if is_binary(p):
        positive = positive_class(p)
        value = precision_recall_fscore_support(
            p.labels, p.predicted, labels=[positive], zero_division=0
        )[index][0]
        return float(value), f"of the positive class {positive!r}"
    value = precision_recall_fscore_support(p.labels, p.predicted, average="macro", zero_division=0)[index]
    return float(value), "macro average over the classes"


def check_targets(p: Predictions, targets: Iterable) -> list[dict[str, Any]]:
    """Each target whose metric the analysis computes, with the run's value and whether it is met
    (None when the value cannot be computed, the reason in note). A target is anything with
    metric, condition, threshold and is_met_by(value) (projects.models.Target)."""
    checks = []
    for target in targets:
        name = metric_name(target.metric)
        if name is None or not len(p):
            continue
        value, note = None, ""
        if target.condition.strip():
            point = parse_condition(target.condition)
            if point is None:
                note = f"The condition {target.condition!r} names no operating point the analysis understands."
            elif name == "precision" or (name == "accuracy" and point.kind == "coverage"):
                result = precision_at(p, point)
                value, note = result["value"], result["note"]
            else:
                note = f"{target.metric} {target.condition} is not computed: only precision (or accuracy at a coverage) is."
        else:
            value, note = _plain_metric(p, name)
        checks.append({
            "target": str(target), "metric": target.metric, "condition": target.condition,
            "threshold": target.threshold, "value": value,
            "passed": None if value is None else bool(target.is_met_by(value)), "note": note,
        })
    return checks


# --- Mistakes, slices -------------------------------------------------------------------------------


def confident_mistakes(p: Predictions, limit: int = MISTAKES) -> list[dict[str, Any]]:
    wrong = np.nonzero(~p.correct)[0]
    ranked = wrong[np.argsort(-p.confidence[wrong], kind="stable")][:limit]
    predicted, confidence = p.predicted, p.confidence
    return [
        {"key": p.keys[i], "true": p.labels[i], "predicted": predicted[i], "confidence": float(confidence[i])}
        for i in ranked
    ]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def slice_groups(keys: Sequence[str], values: Mapping[str, Any]) -> list[tuple[str, list[int]]]:
    """The rows of each slice of a column (`values`: key → the item's value): a numeric column in
    quantile buckets, any other by value (the rarer ones pooled), missing values apart."""
    present = [(i, values.get(key)) for i, key in enumerate(keys)]
    missing = [i for i, v in present if v is None or v == ""]
    filled = [(i, v) for i, v in present if not (v is None or v == "")]
    numbers = [(_number(v), i) for i, v in filled]
    groups: list[tuple[str, list[int]]] = []
    if filled and all(x is not None for x, _ in numbers) and len({x for x, _ in numbers}) > SLICE_BUCKETS:
        import pandas as pd

        buckets = pd.qcut([x for x, _ in numbers], q=SLICE_BUCKETS, duplicates="drop")
        for interval in buckets.categories:
            inside = [(x, i) for (x, i), b in zip(numbers, buckets, strict=True) if b == interval]
            if inside:
                # Named by the values it holds: qcut's edges reach just past the smallest value.
                low, high = min(x for x, _ in inside), max(x for x, _ in inside)
                groups.append((f"{low:.4g} – {high:.4g}", [i for _, i in inside]))
    else:
        counts = Counter(str(v) for _, v in filled)
        kept = {v for v, _ in counts.most_common(MAX_SLICE_VALUES)}
        by_value: dict[str, list[int]] = {}
        for i, v in filled:
            by_value.setdefault(str(v) if str(v) in kept else OTHER, []).append(i)
        groups = sorted(by_value.items(), key=lambda kv: (kv[0] == OTHER, -len(kv[1]), kv[0]))
    if missing:
        groups.append((MISSING, missing))
    return groups


def slices(p: Predictions, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Count, accuracy and macro-F1 of each slice of a column (see slice_groups)."""
    return [{"value": name, **headline(p.subset(rows))} for name, rows in slice_groups(p.keys, values)]


# --- Two runs ------------------------------------------------------------------------------------


def _example(a: Predictions, b: Predictions, i: int, ap: np.ndarray, bp: np.ndarray) -> dict[str, Any]:
    return {"key": a.keys[i], "true": a.labels[i], "a_predicted": ap[i], "b_predicted": bp[i],
            "a_confidence": float(a.confidence[i]), "b_confidence": float(b.confidence[i])}


def compare(a: Predictions, b: Predictions, examples: int = EXAMPLES) -> dict[str, Any]:
    """Runs a and b on the validation items both predicted (and agree on the truth of): both sets
    of metrics, each class's F1 in both and b's gain, and the items one gets right and the other
    wrong."""
    in_b = {key: i for i, key in enumerate(b.keys)}
    pairs = [(i, in_b[key]) for i, key in enumerate(a.keys) if key in in_b]
    disagree = [(i, j) for i, j in pairs if a.labels[i] != b.labels[j]]
    pairs = [(i, j) for i, j in pairs if a.labels[i] == b.labels[j]]
    sa = a.subset([i for i, _ in pairs])
    sb = b.subset([j for _, j in pairs])
    fa = {row["label"]: row["f1"] for row in per_class(sa)}
    fb = {row["label"]: row["f1"] for row in per_class(sb)}
    classes = sa.present_labels() + [c for c in sb.present_labels() if c not in fa]
    ca, cb = sa.correct, sb.correct
    ap, bp = sa.predicted, sb.predicted

    def picked(mask: np.ndarray, by: Callable[[int], float]) -> list[dict[str, Any]]:
        rows = sorted(np.nonzero(mask)[0], key=by, reverse=True)[:examples]
        return [_example(sa, sb, int(i), ap, bp) for i in rows]

    return {
        "common": len(pairs),
        "only_a": len(a) - len(pairs) - len(disagree),
        "only_b": len(b) - len(pairs) - len(disagree),
        "label_disagreements": len(disagree),
        "a": headline(sa),
        "b": headline(sb),
        "per_class": [
            {"label": c, "a_f1": fa.get(c, 0.0), "b_f1": fb.get(c, 0.0), "delta": fb.get(c, 0.0) - fa.get(c, 0.0)}
            for c in classes
        ],
        "both_right": int((ca & cb).sum()),
        "both_wrong": int((~ca & ~cb).sum()),
        # The items b loses (a right, b wrong), where b was surest first, and the converse.
        "a_right_b_wrong": {"count": int((ca & ~cb).sum()), "examples": picked(ca & ~cb, lambda i: sb.confidence[i])},
        "b_right_a_wrong": {"count": int((cb & ~ca).sum()), "examples": picked(cb & ~ca, lambda i: sa.confidence[i])},
    }


def analyse(p: Predictions, targets: Iterable = (), mistakes: int = MISTAKES) -> dict[str, Any]:
    """Everything the analysis page and API show of one run, JSON-ready."""
    return {
        "metrics": headline(p),
        "classes": p.classes,
        "per_class": per_class(p),
        "confusion": confusion(p),
        "targets": check_targets(p, targets),
        "mistakes": confident_mistakes(p, mistakes),
    }
