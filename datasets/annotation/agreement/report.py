"""The full agreement report of a campaign: one JSON-serialisable dict (shape in `__init__.py`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from datasets.annotation.agreement.bootstrap import (
    affordable_resamples,
    percentile_intervals,
    resampled_sums,
)
from datasets.annotation.agreement.coded import MISSING, CodedAnnotations
from datasets.annotation.agreement.stats import (
    _DENSE_KEYS_MAX,
    Sums,
    UnitTypes,
    _count,
    alpha_of,
    as_json_number,
    cohen_kappa_of,
    distinct_rows,
    fleiss_kappa_of,
    label_pairs,
    one_vs_rest,
    one_vs_rest_matrix,
    percent_agreement_of,
    positive_agreement_of,
    sums,
    unanimous_share_of,
    unit_types,
)

BOOTSTRAP_METHOD = "percentile bootstrap over units (multinomial resampling of unit types)"


def compute_agreement(
    data: CodedAnnotations,
    *,
    ordered: bool = False,
    label_values: Sequence[float] | None = None,
    top: int = 20,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Agreement between the annotators of `data`, overall, per label, per pair and per annotator.

    ordered: the labels are ordered (in `data.labels` order), so ordinal and interval alpha are
    reported too; label_values: the labels' numbers for interval alpha (default 0, 1, 2, …).
    top: how many of the most disagreed units to list. resamples: bootstrap resamples for the
    confidence intervals (0: none), drawn with `seed`; see `bootstrap.py` for the method.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie strictly between 0 and 1")
    values = _label_values(label_values, data.n_labels, ordered)
    levels = ("nominal", "ordinal", "interval") if ordered else ("nominal",)
    rows = _rows(data)
    types = unit_types(rows.codes, data.n_labels, group=rows.group, weight=rows.weight)
    ratings = types.ratings
    point = sums(types.counts, types.freq[None, :], full=ordered)

    # One set of resamples serves every statistic: overall, per label, and (multi-label) for
    # each label's own units, so intervals of different statistics come from the same draws.
    questions = [] if data.questions is None else [types.group == q for q in range(len(data.questions))]
    pairable = bool(np.any(ratings >= 2))
    used = affordable_resamples(resamples, len(types.freq), data.n_labels, full=ordered) if pairable else 0
    # With many ordered labels the full coincidence matrix per resample may not fit the budget:
    # then only ordinal and interval alpha go without an interval.
    full = ordered and bool(used)
    if pairable and not used:
        used = affordable_resamples(resamples, len(types.freq), data.n_labels)
    resampled, question_resampled = None, [None] * len(questions)
    if used:
        rng = np.random.default_rng(seed)
        resampled, *question_resampled = resampled_sums(types, used, rng, [None, *questions], full=full)

    def estimate(statistic: Callable[[Sums], np.ndarray], *, needs_full: bool = False) -> dict[str, Any]:
        usable = None if needs_full and not full else resampled
        return estimates(statistic, point, usable, confidence)[0]

    alphas: dict[str, Any] = {level: None for level in ("nominal", "ordinal", "interval")}
    for level in levels:
        alphas[level] = estimate(
            lambda s, level=level: alpha_of(s, level, values), needs_full=level != "nominal"
        )

    pairs, confusions = _pair_confusions(rows, data.n_annotators, data.n_labels, _n_groups(data))
    ratings_histogram = np.bincount(ratings, weights=types.freq, minlength=1)
    return {
        "units": data.n_units,
        "units_labelled": int(types.freq[ratings >= 1].sum()),
        "units_with_pairs": int(types.freq[ratings >= 2].sum()),
        "annotations": int((types.freq * ratings).sum()),
        "pairs": int(round(point.q_total[0] / 2)),
        "annotators": [_jsonable(name) for name in data.annotators],
        "labels": list(data.labels),
        "ordered": ordered,
        "ratings_per_unit": [
            {"ratings": m, "units": int(n)} for m, n in enumerate(ratings_histogram) if n and m
        ],
        "percent_agreement": estimate(percent_agreement_of),
        "unanimous_units": estimate(unanimous_share_of),
        "fleiss_kappa": estimate(fleiss_kappa_of),
        "krippendorff_alpha": alphas,
        "pairwise_cohen": _pairwise(data, pairs, confusions),
        "per_label": _per_label(data, types, point, resampled, question_resampled, confusions, confidence),
        "per_label_basis": "label units" if data.questions is not None else "one-vs-rest",
        "per_annotator": _per_annotator(data, rows, pairs, confusions),
        "most_disagreed": _most_disagreed(data, types, rows, top),
        "confusion": label_pairs(types.counts, types.freq).tolist(),
        "bootstrap": _bootstrap_note(resamples if pairable else 0, used, confidence, seed),
    }


def estimates(
    statistic: Callable[[Sums], np.ndarray], point: Sums, resampled: Sums | None, confidence: float
) -> list[dict[str, Any]]:
    """{"value", "ci"} for every entry of the statistic's (flattened) trailing axes."""
    values = np.atleast_1d(statistic(point)[0]).ravel()
    if resampled is None:
        return [{"value": as_json_number(v), "ci": None} for v in values]
    replicates = statistic(resampled).reshape(resampled.batch, -1)
    lows, highs = percentile_intervals(replicates, confidence)
    out = []
    for value, low, high in zip(values, lows, highs, strict=True):
        defined = np.isfinite(value) and np.isfinite(low) and np.isfinite(high)
        out.append({"value": as_json_number(value), "ci": [float(low), float(high)] if defined else None})
    return out


def _bootstrap_note(requested: int, used: int, confidence: float, seed: int) -> dict[str, Any] | None:
    if requested <= 0:
        return None
    note = {"method": BOOTSTRAP_METHOD, "resamples": used, "confidence": confidence, "seed": seed}
    if used == 0:
        note["skipped"] = "too many distinct unit types to resample within the work budget"
    return note


def _per_label(
    data: CodedAnnotations,
    types: UnitTypes,
    point: Sums,
    resampled: Sums | None,
    question_resampled: list[Sums | None],
    confusions: np.ndarray,
    confidence: float,
) -> list[dict[str, Any]]:
    statistics = (percent_agreement_of, fleiss_kappa_of, alpha_of)
    if data.questions is None:
        # Each label as "is it this label?" — the 2×2 sums are collapses of the L×L ones.
        binary_point = one_vs_rest(point)
        binary_resampled = None if resampled is None else one_vs_rest(resampled)
        names = data.labels
        stats = [estimates(f, binary_point, binary_resampled, confidence) for f in statistics]
        positive = list(positive_agreement_of(point)[0])
        annotations = list((types.freq[:, None] * types.counts).sum(axis=0))
        units = list((types.freq[:, None] * (types.counts > 0)).sum(axis=0))
        kappas = cohen_kappa_of(one_vs_rest_matrix(confusions.sum(axis=1)))  # (pairs, labels)
    else:
        # Multi-label: label L's units are the "is L present on this item?" questions about L,
        # coded 0 = absent, 1 = present.
        names, stats, positive, annotations, units = data.questions, [[], [], []], [], [], []
        for question, question_sums in enumerate(question_resampled):
            members = types.group == question
            counts, freq = types.counts[members], types.freq[members]
            question_point = sums(counts, freq[None, :])
            for slot, statistic in enumerate(statistics):
                stats[slot] += estimates(statistic, question_point, question_sums, confidence)
            positive.append(positive_agreement_of(question_point)[0][1])
            annotations.append(int((freq * counts[:, 1]).sum()))
            units.append(int(freq[counts[:, 1] > 0].sum()))
        kappas = cohen_kappa_of(confusions)  # confusions are (pairs, questions, 2, 2)
    out = []
    for index, name in enumerate(names):
        defined = kappas[:, index][np.isfinite(kappas[:, index])] if len(kappas) else np.array([])
        out.append(
            {
                "label": name,
                "annotations": int(annotations[index]),
                "units": int(units[index]),
                "percent_agreement": stats[0][index],
                "positive_agreement": as_json_number(positive[index]),
                "fleiss_kappa": stats[1][index],
                "krippendorff_alpha": stats[2][index],
                "cohen_kappa_mean": as_json_number(defined.mean()) if len(defined) else None,
            }
        )
    return out


def _n_groups(data: CodedAnnotations) -> int:
    return len(data.questions) if data.questions is not None else 1


@dataclass(frozen=True, eq=False)
class _Rows:
    """The code rows the counting passes run over: for a dense matrix each distinct row once, with
    the number of units that have it (a million units of 3 annotators and 5 labels have at most
    216 distinct rows, so every later pass is over those); for packed slots every unit's row."""

    codes: np.ndarray  # (rows, slots)
    weight: np.ndarray | None  # (rows,) units per row; None: one each
    unit_row: np.ndarray | None  # (n_units,) row of each unit; None: row = unit
    raters: np.ndarray | None  # (rows, slots) as CodedAnnotations.raters
    group: np.ndarray | None  # (rows,) as CodedAnnotations.unit_question


def _rows(data: CodedAnnotations) -> _Rows:
    # Distinct rows lose which unit is which, so they need slot = annotator (no raters) and no
    # groups; packed data keep a row per unit.
    found = None
    if data.raters is None and data.unit_question is None:
        found = distinct_rows(data.codes, data.n_labels)
    if found is None:
        return _Rows(data.codes, None, None, data.raters, data.unit_question)
    rows, weight, unit_row = found
    return _Rows(rows, weight, unit_row, None, None)


def _pair_confusions(
    rows: _Rows, n_annotators: int, n_labels: int, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Confusion matrices of every annotator pair that shares a unit: pairs (P, 2) with a < b and
    confusions (P, groups, L, L), [p, g, x, y] = units of group g where a said x and b said y."""
    codes, groups = rows.codes, rows.group
    slots = codes.shape[1]
    cells = n_groups * n_labels * n_labels
    if rows.raters is None:
        # Dense: slot s is annotator s. Shifting codes by one puts "missing" in row/column 0,
        # which is dropped, so no masking pass is needed.
        side = n_labels + 1
        found_pairs, found = [], []
        for first in range(slots):
            for second in range(first + 1, slots):
                key = (codes[:, first] + 1) * side + (codes[:, second] + 1)
                if groups is not None:
                    key = key + groups * (side * side)
                table = _count(key, rows.weight, n_groups * side * side)
                table = table.reshape(n_groups, side, side)[:, 1:, 1:]
                if table.any():
                    found_pairs.append((first, second))
                    found.append(table)
        if not found:
            return np.zeros((0, 2), dtype=np.int64), np.zeros((0, n_groups, n_labels, n_labels), np.int64)
        return np.array(found_pairs, dtype=np.int64), np.stack(found)

    # Packed slots: a unit's annotations fill its first slots in annotator order, so slot t being
    # filled implies slot s < t is, and the pair's annotators come out ordered (a < b).
    raters = rows.raters
    keys = []
    for second in range(1, slots):
        filled = np.flatnonzero(codes[:, second] != MISSING)
        for first in range(second):
            pair = raters[filled, first] * n_annotators + raters[filled, second]
            group = 0 if groups is None else groups[filled]
            keys.append(
                ((pair * n_groups + group) * n_labels + codes[filled, first]) * n_labels
                + codes[filled, second]
            )
    key = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
    if n_annotators * n_annotators * cells <= max(_DENSE_KEYS_MAX, len(key)):
        table = np.bincount(key, minlength=n_annotators * n_annotators * cells).reshape(-1, cells)
        present = np.flatnonzero(table.any(axis=1))
        confusions = table[present]
    else:
        distinct, counted = np.unique(key, return_counts=True)
        present, row = np.unique(distinct // cells, return_inverse=True)
        confusions = np.zeros((len(present), cells), dtype=np.int64)
        confusions[row.reshape(-1), distinct % cells] = counted
    pairs = np.column_stack([present // n_annotators, present % n_annotators]).astype(np.int64)
    return pairs, confusions.reshape(len(present), n_groups, n_labels, n_labels)


def _pairwise(data: CodedAnnotations, pairs: np.ndarray, confusions: np.ndarray) -> list[dict[str, Any]]:
    """Every annotator pair a < b; pairs sharing no unit have units 0 and kappa None."""
    merged = confusions.sum(axis=1)
    kappas = cohen_kappa_of(merged)
    found = {(int(a), int(b)): index for index, (a, b) in enumerate(pairs)}
    out = []
    for a in range(data.n_annotators):
        for b in range(a + 1, data.n_annotators):
            index = found.get((a, b))
            if index is None:
                out.append({"a": a, "b": b, "units": 0, "agreement": None, "kappa": None})
                continue
            units = int(merged[index].sum())
            out.append(
                {
                    "a": a,
                    "b": b,
                    "units": units,
                    "agreement": float(np.trace(merged[index]) / units),
                    "kappa": as_json_number(kappas[index]),
                }
            )
    return out


def _per_annotator(
    data: CodedAnnotations, rows: _Rows, pairs: np.ndarray, confusions: np.ndarray
) -> list[dict[str, Any]]:
    """Each annotator against the others on the same units: of their paired judgements (one per
    other annotator on each unit they labelled) the share that agree, and mean pairwise kappa."""
    if rows.raters is None:
        weight = np.ones(len(rows.codes)) if rows.weight is None else rows.weight
        annotations = np.rint(
            [weight @ (rows.codes[:, slot] != MISSING) for slot in range(rows.codes.shape[1])]
        )
    else:
        annotations = np.bincount(rows.raters[rows.codes != MISSING], minlength=data.n_annotators)
    merged = confusions.sum(axis=1)
    totals = merged.sum(axis=(1, 2))
    agreeing = np.trace(merged, axis1=1, axis2=2)
    kappas = cohen_kappa_of(merged)
    out = []
    for annotator, name in enumerate(data.annotators):
        involved = (
            (pairs[:, 0] == annotator) | (pairs[:, 1] == annotator) if len(pairs) else np.array([], bool)
        )
        paired, agreed = int(totals[involved].sum()), int(agreeing[involved].sum())
        defined = kappas[involved][np.isfinite(kappas[involved])]
        out.append(
            {
                "annotator": annotator,
                "name": _jsonable(name),
                "annotations": int(annotations[annotator]) if annotator < len(annotations) else 0,
                "paired_judgements": paired,
                "agreeing_judgements": agreed,
                "agreement": agreed / paired if paired else None,
                "cohen_kappa_mean": as_json_number(defined.mean()) if len(defined) else None,
                "kappa_pairs": int(len(defined)),
            }
        )
    return out


def _most_disagreed(data: CodedAnnotations, types: UnitTypes, rows: _Rows, top: int) -> list[dict[str, Any]]:
    """The `top` units with the highest disagreement (1 − share of agreeing pairs), ties broken
    by more labels first, then by unit index. Units everyone agreed on are never listed.

    Ranking is done on types (a unit's disagreement is a function of its type), so the pass over
    the units is a lookup and two comparisons rather than a sort of a million keys."""
    if top <= 0:
        return []
    counts, freq = types.counts, types.freq
    ratings = counts.sum(axis=1)
    agreeing = (counts * (counts - 1)).sum(axis=1) / 2
    pair_count = ratings * (ratings - 1) / 2
    disagreement = np.divide(pair_count - agreeing, pair_count, out=np.zeros(len(freq)), where=pair_count > 0)
    candidates = np.flatnonzero(disagreement > 0)
    if not len(candidates):
        return []
    order = candidates[np.lexsort((-ratings[candidates], -disagreement[candidates]))]
    changes = np.r_[True, (np.diff(disagreement[order]) != 0) | (np.diff(ratings[order]) != 0)]
    ranks = np.cumsum(changes) - 1
    type_rank = np.full(len(freq), len(freq), dtype=np.int64)
    type_rank[order] = ranks
    units_by_rank = np.bincount(ranks, weights=freq[order])
    last = int(min(np.searchsorted(np.cumsum(units_by_rank), top), len(units_by_rank) - 1))
    row_rank = type_rank.take(types.unit_type)
    unit_rank = row_rank if rows.unit_row is None else row_rank.take(rows.unit_row)
    chosen = np.flatnonzero(unit_rank <= last)
    before = chosen[unit_rank[chosen] < last]
    at_last = chosen[unit_rank[chosen] == last][: top - len(before)]
    selected = np.concatenate([before[np.argsort(unit_rank[before], kind="stable")], at_last])
    out = []
    for unit in selected[:top]:
        row = data.codes[unit]
        tally = np.bincount(row[row != MISSING], minlength=data.n_labels)
        kind = types.unit_type[unit if rows.unit_row is None else rows.unit_row[unit]]
        out.append(
            {
                **data.describe_unit(int(unit)),
                "disagreement": float(disagreement[kind]),
                "ratings": int(ratings[kind]),
                "counts": {data.labels[k]: int(n) for k, n in enumerate(tally) if n},
            }
        )
    return out


def _label_values(values: Sequence[float] | None, n_labels: int, ordered: bool) -> np.ndarray | None:
    if values is None:
        return None
    if not ordered:
        raise ValueError("label_values are for ordered labels: pass ordered=True")
    points = np.asarray(values, dtype=np.float64)
    if points.shape != (n_labels,) or not np.all(np.isfinite(points)):
        raise ValueError("label_values must give one finite number per label")
    if n_labels > 1 and not bool(np.all(np.diff(points) > 0)):
        raise ValueError("label_values must increase in label order")
    return points


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
