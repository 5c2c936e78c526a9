"""The agreement statistics, computed from per-unit label counts.

Every nominal, ordinal and interval statistic here depends on a unit only through its label-count
vector c_u (how many annotators gave each label) — never on who gave which. Units with the same
count vector ("type") contribute identically, and a campaign of a million units with 3 annotators
and 5 labels has at most 56 types. So the data are reduced once to a histogram of types
(`unit_types`, one vectorised pass over the codes), and every statistic — the point estimate and
each bootstrap resample, which just reweights the types — is a function of weighted sums over
types (`sums`). That is what makes the whole computation linear in units × labels, and exact.

The L×L matrices below are symmetric, and every nominal statistic — overall, per label, and each
label as a yes/no question — needs only their diagonal, row sums and total, so that is what `sums`
accumulates (7·L + 5 numbers per resample); the full coincidence matrix is accumulated only for
ordinal and interval alpha.

Definitions (m_u = labels on unit u; only units with m_u ≥ 2 are "pairable"):

- coincidence matrix o (Krippendorff): Σ_u (c_u c_uᵀ − diag c_u) / (m_u − 1) over pairable units;
  alpha = 1 − Σ o·d / Σ e·d with e = (n_v n_vᵀ − diag n_v) / (n − 1), n_v = row sums of o, and d the
  nominal, ordinal or interval distance, exactly as the `krippendorff` package computes it.
- ordered pairs q: Σ_u (c_u c_uᵀ − diag c_u): how often label x by one annotator met label y by
  another on the same unit (each pair of annotators counted in both directions).
- percent agreement: trace(q) / Σ q, the share of agreeing annotator pairs, pooled over units.
- Fleiss' kappa: Fleiss (1971) for a constant number of ratings per unit. With a varying number
  we use its generalisation by Gwet (Handbook of Inter-Rater Reliability, 4th ed., 2014; R
  package irrCAC, `fleiss.kappa.raw`): P_a = mean over pairable units of the unit's share of
  agreeing pairs, π_k = mean over units with ≥ 1 label of c_uk / m_u, P_e = Σ π_k², kappa =
  (P_a − P_e) / (1 − P_e). It reduces exactly to Fleiss on complete data (statsmodels'
  `fleiss_kappa`), uses every unit rather than dropping those off the modal count (which would
  discard data and make the statistic depend on which count happens to be modal), and is what
  irrCAC publishes, so figures can be checked elsewhere.

Undefined values (no pairable unit, a single label used throughout) are NaN here and None in the
JSON results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from datasets.annotation.agreement.coded import MISSING, CodedAnnotations

LEVELS = ("nominal", "ordinal", "interval")
# Above this many possible keys the type histogram is found by sorting rather than counting.
_DENSE_KEYS_MAX = 1 << 20
# Floats per chunk when expanding types into their feature rows (bounds the working memory).
_CHUNK_FLOATS = 1 << 22
# The columns `sums` accumulates, in order: (field, has a label axis).
_LAYOUT = (
    ("o_diag", True),
    ("o_row", True),
    ("o_total", False),
    ("q_diag", True),
    ("q_row", True),
    ("q_total", False),
    ("qs_diag", True),
    ("qs_row", True),
    ("qs_total", False),
    ("share", True),
    ("rated", False),
    ("unanimous", False),
)


@dataclass(frozen=True, eq=False)
class UnitTypes:
    """Units grouped by (group, label-count vector)."""

    counts: np.ndarray  # (K, L) label counts of each type
    freq: np.ndarray  # (K,) units of each type
    group: np.ndarray  # (K,) group of each type (0 when units are not grouped)
    unit_type: np.ndarray  # (rows,) type of each row given to unit_types

    @property
    def ratings(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    def subset(self, members: np.ndarray) -> UnitTypes:
        """The types selected by a boolean mask (unit_type is left out: it indexes all types)."""
        return UnitTypes(self.counts[members], self.freq[members], self.group[members], np.zeros(0, np.intp))


@dataclass(frozen=True, eq=False)
class Sums:
    """Weighted sums over units, with leading batch axes (one per resample).

    o: coincidences, q: ordered pairs of labels on the same unit, qs: the same with each unit
    scaled to one (divided by its m (m − 1) ordered pairs); of each, the diagonal (…, L), the row
    sums (…, L) and the total (…). Per unit, with c its counts and m = Σ c, pairable = m ≥ 2:
    o: c(c−1)/(m−1), c, m; q: c(c−1), c(m−1), m(m−1); qs: c(c−1)/(m(m−1)), c/m, 1 (pairable only).
    """

    o_diag: np.ndarray
    o_row: np.ndarray
    o_total: np.ndarray
    q_diag: np.ndarray
    q_row: np.ndarray
    q_total: np.ndarray
    qs_diag: np.ndarray
    qs_row: np.ndarray
    qs_total: np.ndarray  # = pairable units
    share: np.ndarray  # (…, L) Σ c / m over units with a label
    rated: np.ndarray  # (…) units with at least one label
    unanimous: np.ndarray  # (…) pairable units where all labels agree
    o: np.ndarray | None = None  # (…, L, L) full coincidence matrix, when asked for

    @property
    def pairable(self) -> np.ndarray:
        return self.qs_total

    @property
    def batch(self) -> int:
        return int(self.rated.shape[0])


def unit_types(
    codes: np.ndarray,
    n_labels: int,
    group: np.ndarray | None = None,
    weight: np.ndarray | None = None,
) -> UnitTypes:
    """Reduce a (rows, slots) code matrix to its histogram of label-count vectors; each row is one
    unit, or `weight[row]` identical units.

    A count vector is encoded as Σ_k c_k · base^k with base = slots + 1 (a digit per label), so the
    key of a row is a sum of one table lookup per slot: no (n_units, n_labels) array is needed.
    """
    n_rows, slots = codes.shape
    n_groups = int(group.max()) + 1 if group is not None and len(group) else 1
    base = slots + 1
    if n_labels * math.log2(base) + math.log2(n_groups) < 62:
        powers = base ** np.arange(n_labels, dtype=np.int64)
        table = np.concatenate([[0], powers])  # code -1 (missing) adds nothing
        key = np.zeros(n_rows, dtype=np.int64)
        for slot in range(slots):
            key += table.take(codes[:, slot] + 1)
        span = int(base**n_labels)
        if group is not None:
            key += group.astype(np.int64) * span
        if n_groups * span <= max(_DENSE_KEYS_MAX, 4 * n_rows):
            freq_by_key = _count(key, weight, n_groups * span)
            keys = np.flatnonzero(freq_by_key)
            lookup = np.zeros(n_groups * span, dtype=np.intp)
            lookup[keys] = np.arange(len(keys))
            row_type, freq = lookup.take(key), freq_by_key[keys]
        else:
            keys, row_type = np.unique(key, return_inverse=True)
            freq = _count(row_type.reshape(-1), weight, len(keys))
        counts = (keys[:, None] % span) // powers[None, :] % base
        return UnitTypes(counts=counts, freq=freq, group=keys // span, unit_type=row_type.reshape(-1))

    # Too many labels for an integer key: count per row and sort the rows (still linear memory).
    rows, slot_index = np.nonzero(codes != MISSING)
    counts_by_row = np.bincount(
        rows * n_labels + codes[rows, slot_index], minlength=n_rows * n_labels
    ).reshape(n_rows, n_labels)
    groups = np.zeros(n_rows, dtype=np.int64) if group is None else group.astype(np.int64)
    table = np.column_stack([groups, counts_by_row])
    distinct, row_type = np.unique(table, axis=0, return_inverse=True)
    row_type = row_type.reshape(-1)
    return UnitTypes(
        counts=distinct[:, 1:],
        freq=_count(row_type, weight, len(distinct)),
        group=distinct[:, 0],
        unit_type=row_type,
    )


def distinct_rows(codes: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Each distinct row of a (units, slots) code matrix once: (rows, units having each row, row
    of each unit); None when there could be too many distinct rows to count them in a table.

    A million units of 3 annotators and 5 labels have at most 6³ = 216 distinct rows, so every
    later pass runs over those instead of the units. A row read as a number in base
    n_labels + 1 (missing = digit 0) is its own key: one matrix-vector product."""
    n_units, slots = codes.shape
    side = n_labels + 1
    if side**slots > max(_DENSE_KEYS_MAX, 4 * n_units):
        return None
    powers = side ** np.arange(slots, dtype=np.int64)
    key = codes.astype(np.int64, copy=False) @ powers + int(powers.sum())
    histogram = np.bincount(key, minlength=side**slots)
    present = np.flatnonzero(histogram)
    lookup = np.zeros(side**slots, dtype=np.intp)
    lookup[present] = np.arange(len(present))
    rows = present[:, None] // powers[None, :] % side - 1
    return rows, histogram[present], lookup.take(key)


def _count(index: np.ndarray, weight: np.ndarray | None, size: int) -> np.ndarray:
    if weight is None:
        return np.bincount(index, minlength=size)
    # Float weights are exact here: unit counts stay far below 2**53.
    return np.rint(np.bincount(index, weights=weight, minlength=size)).astype(np.int64)


def sums(counts: np.ndarray, weights: np.ndarray, *, full: bool = False) -> Sums:
    """Σ_t weights[b, t] · contribution(counts[t]) for every row b of weights (B, K).

    With weights = the type frequencies this is the data itself; with multinomial draws of them it
    is a bootstrap resample. full: also accumulate the L×L coincidence matrix (ordinal, interval).
    Types are expanded into feature rows a chunk at a time."""
    counts = np.asarray(counts, dtype=np.float64)
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    n_types, n_labels = counts.shape
    widths = [n_labels if per_label else 1 for _, per_label in _LAYOUT]
    widths += [n_labels * n_labels] if full else []
    total = np.zeros((weights.shape[0], sum(widths)))
    step = max(1, _CHUNK_FLOATS // sum(widths))
    for start in range(0, n_types, step):
        chunk = slice(start, start + step)
        total += weights[:, chunk] @ _contributions(counts[chunk], full)
    parts = np.split(total, np.cumsum(widths)[:-1], axis=1)
    fields = {
        name: part if per_label else part[:, 0]
        for (name, per_label), part in zip(_LAYOUT, parts, strict=False)
    }
    coincidences = parts[-1].reshape(-1, n_labels, n_labels) if full else None
    return Sums(**fields, o=coincidences)


def _contributions(counts: np.ndarray, full: bool) -> np.ndarray:
    """(K, F) per-type contributions in the column order of `sums`."""
    ratings = counts.sum(axis=1, keepdims=True)
    pairable = ratings >= 2
    rated = ratings >= 1
    per_unit = np.divide(1.0, ratings - 1, out=np.zeros_like(ratings), where=pairable)
    per_pair = np.divide(1.0, ratings * (ratings - 1), out=np.zeros_like(ratings), where=pairable)
    share = np.divide(counts, ratings, out=np.zeros_like(counts), where=rated)
    agreeing = counts * (counts - 1)
    columns = [
        agreeing * per_unit,
        counts * pairable,
        ratings * pairable,
        agreeing,
        counts * (ratings - 1) * pairable,
        ratings * (ratings - 1),
        agreeing * per_pair,
        share * pairable,
        pairable,
        share,
        rated,
        pairable & (counts.max(axis=1, keepdims=True, initial=0) == ratings),
    ]
    if full:
        pairs = counts[:, :, None] * counts[:, None, :]
        diagonal = np.arange(counts.shape[1])
        pairs[:, diagonal, diagonal] -= counts
        columns.append(pairs.reshape(len(counts), -1) * per_unit)
    return np.column_stack(columns)


def label_pairs(counts: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """(L, L) how often label x by one annotator met label y by another on the same unit:
    Σ_u (c_u c_uᵀ − diag c_u), exact integers."""
    counts = np.asarray(counts, dtype=np.int64)
    weighted = counts * np.asarray(freq, dtype=np.int64)[:, None]
    return weighted.T @ counts - np.diag(weighted.sum(axis=0))


def concatenate(parts: list[Sums]) -> Sums:
    """Sums of several batches of resamples as one batch."""
    fields = {name: np.concatenate([getattr(p, name) for p in parts]) for name, _ in _LAYOUT}
    full = parts[0].o is not None
    return Sums(**fields, o=np.concatenate([p.o for p in parts]) if full else None)


def one_vs_rest_matrix(matrix: np.ndarray) -> np.ndarray:
    """(…, L, L) → (…, L, 2, 2): for every label k, the matrix of "is it k?" (index 1) against
    "is it another label?" (index 0) on both axes."""
    diagonal = np.diagonal(matrix, axis1=-2, axis2=-1)
    row, column = matrix.sum(axis=-1), matrix.sum(axis=-2)
    total = matrix.sum(axis=(-2, -1))[..., None]
    out = np.empty((*diagonal.shape, 2, 2), dtype=np.result_type(matrix, np.int64))
    out[..., 1, 1] = diagonal
    out[..., 1, 0] = row - diagonal
    out[..., 0, 1] = column - diagonal
    out[..., 0, 0] = total - row - column + diagonal
    return out


def one_vs_rest(totals: Sums) -> Sums:
    """The same sums with every label asked as a yes/no question: a new axis (…, L, 2) where
    index 1 = "this label" and 0 = "any other label". For a symmetric matrix with diagonal d,
    row sums r and total t, label k's 2×2 has diagonal (t − 2 r_k + d_k, d_k), rows (t − r_k, r_k)."""

    def collapse(diag: np.ndarray, row: np.ndarray, total: np.ndarray) -> tuple:
        total = total[..., None]
        return (
            np.stack([total - 2 * row + diag, diag], axis=-1),
            np.stack([total - row, row], axis=-1),
            np.broadcast_to(total, row.shape),
        )

    o = collapse(totals.o_diag, totals.o_row, totals.o_total)
    q = collapse(totals.q_diag, totals.q_row, totals.q_total)
    qs = collapse(totals.qs_diag, totals.qs_row, totals.qs_total)
    rated = totals.rated[..., None]
    return Sums(
        *o,
        *q,
        *qs,
        share=np.stack([rated - totals.share, totals.share], axis=-1),
        rated=np.broadcast_to(rated, totals.share.shape),
        unanimous=np.full(totals.share.shape, np.nan),  # not determined by the collapsed sums
    )


# --- statistics from sums: every function maps batch axes to batch axes, NaN when undefined ----


def percent_agreement_of(totals: Sums) -> np.ndarray:
    return _ratio(totals.q_diag.sum(axis=-1), totals.q_total)


def unanimous_share_of(totals: Sums) -> np.ndarray:
    return _ratio(totals.unanimous, totals.pairable)


def positive_agreement_of(totals: Sums) -> np.ndarray:
    """Per label: of the paired judgements giving it, the share whose partner gave it too."""
    return _ratio(totals.q_diag, totals.q_row)


def fleiss_kappa_of(totals: Sums) -> np.ndarray:
    observed = _ratio(totals.qs_diag.sum(axis=-1), totals.pairable)
    proportions = _ratio(totals.share, totals.rated[..., None])
    expected = (proportions**2).sum(axis=-1)
    kappa = _ratio(observed - expected, 1.0 - expected)
    return np.where(expected < 1.0, kappa, np.nan)


def alpha_of(totals: Sums, level: str = "nominal", values: np.ndarray | None = None) -> np.ndarray:
    """Krippendorff's alpha from the coincidences (full matrix for ordinal and interval)."""
    n = totals.o_total
    if level == "nominal":
        n_v = totals.o_row
        observed = n - totals.o_diag.sum(axis=-1)
        expected = _ratio(n * n - (n_v**2).sum(axis=-1), n - 1.0)
    else:
        if totals.o is None:
            raise ValueError(f"{level} alpha needs the full coincidence matrix: sums(..., full=True)")
        o = totals.o
        n_v = o.sum(axis=-1)
        distance = _distances(n_v, level, values)
        e = n_v[..., :, None] * n_v[..., None, :]
        diagonal = np.arange(n_v.shape[-1])
        e[..., diagonal, diagonal] -= n_v
        e = e / np.where(n > 1.0, n - 1.0, np.nan)[..., None, None]
        observed = (o * distance).sum(axis=(-2, -1))
        expected = (e * distance).sum(axis=(-2, -1))
    alpha = 1.0 - _ratio(observed, expected)
    return np.where((n > 1.0) & (expected > 0.0), alpha, np.nan)


def _distances(n_v: np.ndarray, level: str, values: np.ndarray | None) -> np.ndarray:
    index = np.arange(n_v.shape[-1])
    if level == "interval":
        points = index.astype(np.float64) if values is None else np.asarray(values, dtype=np.float64)
        return (points[:, None] - points[None, :]) ** 2
    if level != "ordinal":
        raise ValueError(f"unknown level of measurement {level!r}; use one of {LEVELS}")
    # Krippendorff's ordinal metric: (Σ_{g=k..l} n_g − (n_k + n_l)/2)², from the pairable marginals.
    low, high = np.minimum.outer(index, index), np.maximum.outer(index, index)
    cumulative = np.cumsum(n_v, axis=-1)
    between = cumulative[..., high] - cumulative[..., low] + n_v[..., low]
    return (between - (n_v[..., low] + n_v[..., high]) / 2.0) ** 2


def cohen_kappa_of(confusion: np.ndarray) -> np.ndarray:
    """Cohen's kappa of (…, L, L) confusion matrices between two annotators, computed as
    scikit-learn does (1 − observed / expected disagreement); NaN when they share no unit or
    expected disagreement is zero (both used one and the same label throughout)."""
    confusion = np.asarray(confusion)
    n = confusion.sum(axis=(-2, -1))
    by_first, by_second = confusion.sum(axis=-1), confusion.sum(axis=-2)
    # Integer arithmetic decides exactly whether chance disagreement is zero.
    chance_agreeing = (by_first * by_second).sum(axis=-1)
    defined = (n > 0) & (n * n != chance_agreeing)
    n_float = np.where(defined, n, 1).astype(np.float64)
    observed = n - np.trace(confusion, axis1=-2, axis2=-1)
    expected = (n_float * n_float - chance_agreeing) / n_float
    kappa = 1.0 - observed / np.where(defined, expected, 1.0)
    return np.where(defined, kappa, np.nan)


def _ratio(numerator, denominator) -> np.ndarray:
    numerator, denominator = np.broadcast_arrays(
        np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
    )
    return np.divide(numerator, denominator, out=np.full(numerator.shape, np.nan), where=denominator != 0)


# --- single statistics of coded annotations, for callers that need just one number --------------


def _data_sums(data: CodedAnnotations, full: bool = False) -> Sums:
    # Who gave a label does not matter here, so distinct rows of slots serve even for packed data.
    found = distinct_rows(data.codes, data.n_labels)
    rows, weight = (data.codes, None) if found is None else found[:2]
    types = unit_types(rows, data.n_labels, weight=weight)
    return sums(types.counts, types.freq[None, :], full=full)


def percent_agreement(data: CodedAnnotations) -> float | None:
    """Share of agreeing annotator pairs, pooled over units."""
    return as_json_number(percent_agreement_of(_data_sums(data))[0])


def fleiss_kappa(data: CodedAnnotations) -> float | None:
    """Fleiss' kappa (Gwet's generalisation when units have different numbers of labels)."""
    return as_json_number(fleiss_kappa_of(_data_sums(data))[0])


def krippendorff_alpha(
    data: CodedAnnotations, level: str = "nominal", label_values: np.ndarray | None = None
) -> float | None:
    """Krippendorff's alpha; label_values (interval only) are the labels' numbers, equally spaced
    (0, 1, 2, …) by default."""
    return as_json_number(alpha_of(_data_sums(data, full=level != "nominal"), level, label_values)[0])


def cohen_kappa(confusion: np.ndarray) -> float | None:
    """Cohen's kappa of one (L, L) confusion matrix between two annotators."""
    return as_json_number(cohen_kappa_of(np.asarray(confusion, dtype=np.int64)))


def as_json_number(value) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None
