"""Pieces shared by the three kinds of profile: progress, labels, numeric summaries with
histograms, duplicate groups and JSON-safe output."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

Report = Callable[[int, str], object]

MAX_BINS = 30
# A profile is stored as JSON on the version: lists that grow with the data are capped, with the
# full count kept beside them.
EXAMPLE_GROUPS = 20
KEYS_PER_GROUP = 10
MAX_NAMED_FILES = 100
MAX_CLASSES = 200
# More distinct numeric labels than this reads as a regression target rather than classes.
NUMERIC_LABEL_CLASSES = 50


class Progress:
    """Calls report(percent, message) with a percentage that never goes backwards."""

    def __init__(self, report: Report | None):
        self._report = report
        self._last = -1

    def __call__(self, percent: float, message: str) -> None:
        if self._report is None:
            return
        percent = int(max(self._last, min(100, percent)))
        self._last = percent
        self._report(percent, message)

    def step(self, percent: float, message: str) -> None:
        """For loops: reports only when the whole percentage moved."""
        if int(percent) > self._last:
            self(percent, message)


def factorize_strings(values) -> tuple[np.ndarray, np.ndarray]:
    """(codes, uniques) of string-like values, equal after stripping whitespace; missing and
    blank values get -1. Works on the distinct values only: one hash pass over the column."""
    raw_codes, raw_uniques = pd.factorize(values, use_na_sentinel=True)
    raw_codes = np.asarray(raw_codes, dtype=np.int64)
    if len(raw_uniques) == 0:
        return raw_codes, np.array([], dtype=object)
    stripped = np.array([str(u).strip() for u in raw_uniques], dtype=object)
    merged_codes, merged = pd.factorize(stripped)
    merged = np.asarray(merged, dtype=object)
    keep = merged != ""
    renumber = np.full(len(merged), -1, dtype=np.int64)
    renumber[keep] = np.arange(int(keep.sum()))
    per_raw = renumber[merged_codes]
    codes = np.full(len(raw_codes), -1, dtype=np.int64)
    present = raw_codes >= 0
    codes[present] = per_raw[raw_codes[present]]
    return codes, merged[keep]


def code_counts(codes: np.ndarray, n_uniques: int) -> np.ndarray:
    return np.bincount(codes[codes >= 0], minlength=n_uniques)


def unique_ids(count: int, start: int) -> np.ndarray:
    """Ids no other item shares: items with nothing to compare (missing text, unreadable file)
    are never duplicates of each other."""
    return np.arange(start, start + count, dtype=np.int64)


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


def label_profile(codes: np.ndarray, names: np.ndarray) -> dict:
    """Labelled/unlabelled counts and class balance. codes: -1 for unlabelled."""
    labelled = int(np.count_nonzero(codes >= 0))
    counts = code_counts(codes, len(names))
    order = np.argsort(-counts, kind="stable")
    result = {
        "labelled_count": labelled,
        "unlabelled_count": int(codes.size - labelled),
        "class_count": int(len(names)),
        "class_balance": {str(names[i]): int(counts[i]) for i in order[:MAX_CLASSES]},
        "class_balance_truncated": bool(len(names) > MAX_CLASSES),
        "label_kind": "categorical",
    }
    if len(names) > NUMERIC_LABEL_CLASSES:
        parsed = pd.to_numeric(pd.Series(names, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
        if np.isfinite(parsed).all():
            result["label_kind"] = "numeric"
            result["label_stats"] = numeric_summary(parsed[codes[codes >= 0]])
    return result


def duplicate_report(
    keys: np.ndarray, exact: np.ndarray, near: np.ndarray, labels: np.ndarray, label_names: np.ndarray
) -> dict:
    """Exact and near duplicate groups and label conflicts among them.

    exact/near hold one group id per item; items sharing an id are duplicates. Equal exact ids
    must imply equal near ids, so near groups contain the exact ones; a near group counts as a
    near duplicate only when its items are not all exact copies of one another. Conflicts are
    looked for in every near group, exact or not."""
    frame = pd.DataFrame({"exact": exact, "near": near, "label": labels})

    exact_part = frame[frame["exact"].duplicated(keep=False).to_numpy()]
    exact_sizes = exact_part.groupby("exact").size()

    near_part = frame[frame["near"].duplicated(keep=False).to_numpy()]
    distinct = near_part.groupby("near")["exact"].nunique()
    near_only = near_part[near_part["near"].isin(distinct.index[distinct > 1])]
    near_sizes = near_only.groupby("near").size()

    labelled = near_part[near_part["label"] >= 0]
    label_variety = labelled.groupby("near")["label"].nunique()
    conflict_ids = label_variety.index[label_variety > 1]
    conflicts = near_part[near_part["near"].isin(conflict_ids)]
    conflict_sizes = conflicts.groupby("near").size()

    conflict_examples = []
    for group, members in _top_groups(conflicts, "near", conflict_sizes):
        group_labels = frame["label"].to_numpy()[members]
        named = pd.Series(label_names[group_labels[group_labels >= 0]]).value_counts()
        conflict_examples.append(
            {
                "size": int(len(members)),
                "keys": [str(k) for k in keys[members[:KEYS_PER_GROUP]]],
                "labels": {str(k): int(v) for k, v in named.items()},
                "exact": bool(distinct.get(group, 1) == 1),
            }
        )
    labelled_in_conflict = int(np.count_nonzero(conflicts["label"].to_numpy() >= 0))
    return {
        "exact": _group_summary(keys, exact_part, "exact", exact_sizes),
        "near": _group_summary(keys, near_only, "near", near_sizes),
        "conflicting_labels": {
            "groups": int(len(conflict_sizes)),
            "items": labelled_in_conflict,
            "examples": conflict_examples,
        },
    }


def _top_groups(part: pd.DataFrame, column: str, sizes: pd.Series):
    """The largest groups, ties broken by where a group first appears in the data, never by a
    group id (a hash), so the same rows give the same examples whatever else was read."""
    if sizes.empty:
        return
    first = pd.Series(part.index.to_numpy(), index=part[column].to_numpy()).groupby(level=0).min()
    ranking = pd.DataFrame({"size": sizes, "first": first.reindex(sizes.index)})
    top = ranking.sort_values(["size", "first"], ascending=[False, True]).index[:EXAMPLE_GROUPS]
    chosen = part[part[column].isin(top)]
    positions = chosen.groupby(column).indices
    for group in top:
        yield group, np.asarray(chosen.index.to_numpy()[positions[group]])


def _group_summary(keys: np.ndarray, part: pd.DataFrame, column: str, sizes: pd.Series) -> dict:
    examples = [
        {"size": int(len(members)), "keys": [str(k) for k in keys[members[:KEYS_PER_GROUP]]]}
        for _, members in _top_groups(part, column, sizes)
    ]
    items = int(sizes.sum())
    return {
        "groups": int(len(sizes)),
        "items": items,
        "redundant": items - int(len(sizes)),
        "examples": examples,
    }


def json_safe(value):
    """Plain Python types only, and no NaN or infinity (PostgreSQL's jsonb refuses them)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
