"""Percentile bootstrap over units, done on the histogram of unit types.

The ordinary nonparametric bootstrap draws n units with replacement from the n units of the
data. Since every statistic depends on a unit only through its type (its label-count vector, see
`stats.py`), a resample is fully described by how many units of each type it drew, and that vector
is distributed Multinomial(n, freq / n). Drawing it directly is the *same* bootstrap, exact, at a
cost of O(resamples × types) instead of O(resamples × units): with a million units of 3
annotators and 5 labels (≤ 56 types) a thousand resamples take milliseconds.

Units without any label are left out of the resampled population (they contribute to nothing).
When units are grouped (multi-label questions) the draw is stratified: each group keeps its own
number of units. Resamples are drawn a batch at a time so the (resamples × types) weights never
take more than a few megabytes. The work is bounded: with a pathological number of types (units
labelled by many annotators with many labels, so that few units share a count vector) the resample
count is lowered to fit the budget, and below MIN_RESAMPLES — too few for a 95% percentile
interval — the bootstrap is skipped and the intervals are None; the count used is reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from datasets.annotation.agreement.stats import Sums, UnitTypes, concatenate, sums

# Multiply-adds allowed for the resampled sums (resamples × types × features: a BLAS product,
# about a second at this size on one core) and binomial draws (resamples × types, a few seconds).
_WORK_BUDGET = 3_000_000_000
_DRAW_BUDGET = 20_000_000
# Weights drawn at once (resamples × types in a batch).
_BATCH_WEIGHTS = 1 << 19
MIN_RESAMPLES = 200


def affordable_resamples(requested: int, n_types: int, n_labels: int, *, full: bool = False) -> int:
    """The requested resample count, lowered to fit the work budget; 0 when the budget leaves
    fewer than MIN_RESAMPLES (or none were requested)."""
    if requested <= 0:
        return 0
    features = 7 * n_labels + 5 + (n_labels * n_labels if full else 0)
    cap = min(_WORK_BUDGET // max(n_types * features, 1), _DRAW_BUDGET // max(n_types, 1))
    if cap >= requested:
        return int(requested)
    return int(cap) if cap >= MIN_RESAMPLES else 0


def resampled_sums(
    types: UnitTypes,
    resamples: int,
    rng: np.random.Generator,
    subsets: Sequence[np.ndarray | None] = (None,),
    *,
    full: bool = False,
) -> list[Sums]:
    """Sums of `resamples` bootstrap resamples of the units, for all types (subset None) and for
    each boolean subset of the types (e.g. one multi-label question's), from the same draws."""
    eligible = types.ratings >= 1
    batch = max(1, _BATCH_WEIGHTS // max(len(types.freq), 1))
    parts: list[list[Sums]] = [[] for _ in subsets]
    for start in range(0, resamples, batch):
        weights = multinomial_weights(
            types.freq, min(batch, resamples - start), rng, strata=types.group, eligible=eligible
        )
        for index, subset in enumerate(subsets):
            if subset is None:
                parts[index].append(sums(types.counts, weights, full=full))
            else:
                parts[index].append(sums(types.counts[subset], weights[:, subset], full=full))
    return [concatenate(part) for part in parts]


def multinomial_weights(
    freq: np.ndarray,
    resamples: int,
    rng: np.random.Generator,
    *,
    strata: np.ndarray | None = None,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """(resamples, K) unit counts per type of `resamples` bootstrap resamples, each drawn within
    its stratum; types not `eligible` are never drawn."""
    freq = np.asarray(freq, dtype=np.int64)
    take = np.ones(len(freq), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    strata = np.zeros(len(freq), dtype=np.int64) if strata is None else np.asarray(strata)
    weights = np.zeros((resamples, len(freq)))
    for stratum in np.unique(strata[take]):
        members = np.flatnonzero(take & (strata == stratum))
        units = int(freq[members].sum())
        if units == 0:
            continue
        weights[:, members] = rng.multinomial(units, freq[members] / units, size=resamples)
    return weights


def percentile_intervals(replicates: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper percentile bounds of (resamples, statistics) along axis 0. A bound is NaN
    when the statistic is undefined in more than half of the resamples (no honest interval then);
    otherwise the undefined resamples are left out."""
    replicates = np.asarray(replicates, dtype=np.float64).reshape(len(replicates), -1)
    tail = (1.0 - confidence) / 2.0
    finite = np.isfinite(replicates)
    if finite.all():
        low, high = np.quantile(replicates, [tail, 1.0 - tail], axis=0)
        return low, high
    low, high = np.full(replicates.shape[1], np.nan), np.full(replicates.shape[1], np.nan)
    for column in range(replicates.shape[1]):
        defined = replicates[finite[:, column], column]
        if len(defined) and 2 * len(defined) >= len(replicates):
            low[column], high[column] = np.quantile(defined, [tail, 1.0 - tail])
    return low, high
