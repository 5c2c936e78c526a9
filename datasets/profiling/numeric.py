"""Summaries of numeric values: statistics, histograms, rounding for display."""

from __future__ import annotations

import numpy as np

MAX_BINS = 30


def histogram(values: np.ndarray, integral: bool) -> dict:
    """At most MAX_BINS bins; integers with a small range get one bin per integer."""
    if values.size == 0:
        return {"edges": [], "counts": []}
    lo, hi = float(values.min()), float(values.max())
    if integral and hi - lo < MAX_BINS:
        edges = np.arange(lo - 0.5, hi + 1.0, 1.0)
        counts = np.bincount((values - lo).astype(np.int64), minlength=int(hi - lo) + 1)
    elif lo == hi:
        edges = np.array([lo - 0.5, lo + 0.5])
        counts = np.array([values.size])
    else:
        counts, edges = np.histogram(values, bins=MAX_BINS, range=(lo, hi))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def numeric_summary(values: np.ndarray) -> dict:
    """Summary of finite float values, with their histogram."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {"count": 0, "histogram": {"edges": [], "counts": []}}
    integral = bool(np.all(np.floor(values) == values))
    p01, p25, p50, p75, p99 = np.percentile(values, [1, 25, 50, 75, 99])
    return {
        "count": int(values.size),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "p01": float(p01),
        "p25": float(p25),
        "median": float(p50),
        "p75": float(p75),
        "p99": float(p99),
        "zeros": int(np.count_nonzero(values == 0)),
        "negatives": int(np.count_nonzero(values < 0)),
        "integral": integral,
        "histogram": histogram(values, integral),
    }


def round_significant(values: np.ndarray, digits: int = 4) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    out = values.copy()
    finite = np.isfinite(values) & (values != 0)
    x = values[finite]
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(x))))
    out[finite] = np.round(x * scale) / scale
    out[out == 0] = 0.0  # -0.0 and 0.0 are one value
    return out
