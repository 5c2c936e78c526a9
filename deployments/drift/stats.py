"""The numbers drift is measured on, and the population stability index (PSI) between two samples.

Pure numpy: the serving side calls `input_stats` for every prediction it logs, so it stays cheap
and knows nothing of Django. A prediction keeps these few numbers whatever the project's privacy
setting (Prediction.stats): enough to see a population move, never enough to rebuild an input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

# The words a text is counted in: the tokenizer of the built-in text trainers
# (experiments/training/text.py, which imports torch and so is not imported here).
_TOKEN = re.compile(r"\w+", re.UNICODE)
# Quantile bins taken from the training sample: ten is the usual PSI binning (deciles).
BINS = 10
# Stands in for an empty bin's share, so that ln(p/q) stays finite: a bin production fills and
# training left empty weighs a lot, as it should, without being infinite.
EPSILON = 1e-4


def input_stats(*, schema: dict, row: Any) -> dict[str, float]:
    """A few numbers about one prepared input `row` as the model takes it (see ModelExport.input_schema):
    image (flat float pixels, 0–255): {"mean", "std"} of the intensity; text (the string):
    {"length": characters, "tokens": words}; tabular: {} (its features are the numbers, and they
    are the input itself)."""
    kind = schema.get("kind")
    if kind == "image":
        pixels = np.asarray(row, dtype=np.float64).reshape(-1)
        if not pixels.size:
            return {"mean": 0.0, "std": 0.0}
        return {"mean": round(float(pixels.mean()), 4), "std": round(float(pixels.std()), 4)}
    if kind == "text":
        text = row if isinstance(row, str) else str(row)
        return {"length": float(len(text)), "tokens": float(len(_TOKEN.findall(text)))}
    return {}


def stat_names(kind: str) -> tuple[str, ...]:
    """The statistics input_stats gives for inputs of this kind, in the order pages show them."""
    return {"image": ("mean", "std"), "text": ("length", "tokens")}.get(kind, ())


def quantile_edges(values: Sequence[float] | np.ndarray, *, bins: int = BINS) -> list[float]:
    """The inner edges of (at most) `bins` quantile bins of a reference sample; ties merge bins,
    so a constant feature has no edge at all (one bin)."""
    data = np.asarray(values, dtype=np.float64)
    data = data[np.isfinite(data)]
    if not data.size:
        return []
    inner = np.quantile(data, np.linspace(0, 1, bins + 1)[1:-1])
    return [float(e) for e in np.unique(inner)]


def bin_shares(values: Sequence[float] | np.ndarray, edges: Sequence[float]) -> list[float]:
    """The share of `values` in each bin (len(edges) + 1 of them, the outer ones open-ended); a
    value equal to an edge goes to the bin above it. Non-finite values are left out."""
    data = np.asarray(values, dtype=np.float64)
    data = data[np.isfinite(data)]
    counts = np.bincount(np.searchsorted(np.asarray(edges, dtype=np.float64), data, side="right"),
                         minlength=len(edges) + 1)
    total = counts.sum()
    return [float(c) / total if total else 0.0 for c in counts]


def bin_of(value: float, edges: Sequence[float]) -> int:
    return int(np.searchsorted(np.asarray(edges, dtype=np.float64), value, side="right"))


def psi(expected: Sequence[float], actual: Sequence[float], *, epsilon: float = EPSILON) -> float:
    """Population stability index of `actual` shares against `expected` shares of the same bins:
    Σ (a − e)·ln(a / e), each share floored at `epsilon`. 0 for equal populations; 0.1 is often
    read as a moderate shift and 0.2 as a large one."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, epsilon), max(a, epsilon)
        total += (a - e) * math.log(a / e)
    return float(total)


def category_shares(labels: Iterable[str], categories: Sequence[str]) -> list[float]:
    """The share of each category among `labels` (labels outside `categories` are not counted)."""
    index = {c: i for i, c in enumerate(categories)}
    counts = [0] * len(categories)
    for label in labels:
        if label in index:
            counts[index[label]] += 1
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]
