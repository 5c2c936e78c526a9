"""The statistics behind the human baseline (selectors.human_baseline): plain math, no database.

- `wilson_interval`: the Wilson score interval of a proportion. Unlike the normal (Wald) interval
  it stays inside [0, 1] and does not collapse to a point at 0 or 1, so an annotator right on all
  of 40 items gets [0.91, 1], not [1, 1].
- `mean_share_interval`: the interval of a mean of per-item shares (the share of an item's
  annotations that match its gold label). The judgements on one item are not independent (the
  item may be hard for everyone), so it is a Wilson interval at the *effective* number of
  judgements (Kish's design effect: p(1 − p) / Var(mean)), kept between the number of items and
  the number of judgements. At the number of items it is conservative whatever the correlation:
  a share in [0, 1] with mean p never varies more than a yes/no of the same mean.
- `accuracy_from_agreement`: an annotator's accuracy estimated from how often two annotators agree,
  under the symmetric-error model: every annotator is right with the same probability a, and when
  wrong picks any of the other K − 1 labels equally often, independently of the others. Two
  annotators then agree with probability p = a² + (1 − a)² / (K − 1), which increases with a from
  chance (a = 1/K, p = 1/K) to 1, so it is inverted on that branch:
  a = (1 + √((K − 1)(K·p − 1))) / K. Agreement at or below chance gives a = 1/K (no better than
  guessing). Monotone, so an interval of p maps to an interval of a. Annotators of unequal
  accuracy are summarised by about the geometric mean of their accuracies; errors that favour
  some labels (confusable classes) make annotators agree on wrong labels more than the model
  expects, and the estimate is then too high.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile


def wilson_interval(p: float, n: float, *, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion p observed on n trials (n may be fractional: an
    effective size)."""
    if n <= 0:
        raise ValueError("A proportion needs at least one trial.")
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def effective_judgements(shares: Sequence[float], judgements: int) -> float:
    """How many independent yes/no judgements the mean of these per-item shares is worth, between
    the number of items and the number of judgements behind them."""
    n = len(shares)
    if n == 0:
        return 0.0
    mean = sum(shares) / n
    variance = sum((s - mean) ** 2 for s in shares) / (n - 1) if n > 1 else 0.0
    if variance <= 0 or not 0 < mean < 1:
        return float(max(judgements, n))  # every item alike: no item-level variation to correct for
    return min(max(mean * (1 - mean) * n / variance, float(n)), float(max(judgements, n)))


def mean_share_interval(shares: Sequence[float], judgements: int) -> tuple[float, float, float]:
    """The mean of per-item shares and its 95% interval: (mean, low, high)."""
    if not shares:
        raise ValueError("No item.")
    mean = sum(shares) / len(shares)
    low, high = wilson_interval(mean, effective_judgements(shares, judgements))
    return mean, low, high


def accuracy_from_agreement(p: float, labels: int) -> float:
    """The accuracy a with a² + (1 − a)² / (K − 1) = p (a ≥ 1/K), K = labels ≥ 2."""
    if labels < 2:
        raise ValueError("Agreement says nothing of accuracy with fewer than two labels.")
    k = labels
    return min(1.0, (1 + math.sqrt(max(0.0, (k - 1) * (k * p - 1)))) / k)


def agreement_from_accuracy(a: float, labels: int) -> float:
    """The model's forward direction: how often two annotators of accuracy a agree."""
    return a * a + (1 - a) ** 2 / (labels - 1)
