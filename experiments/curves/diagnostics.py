"""What a run's loss curves say, as findings a person can act on.

Input: the training loss and, if logged, the validation loss, each as (steps, values), full or
downsampled (a `Series` or `History` works too). Prefer the full history (whoever fills the curve
cache reads it anyway; 1,000,000 points take about 50 ms): a downsampled series works, but its
min/max pairs say less about the typical value, so verdicts on it are more cautious. Output:
findings with a severity, a code and one sentence.

Losses have no common scale and are noisy (per batch, per epoch, downsampled min/max pairs), so
every judgement is relative to the curve itself:

- Shape is read from a summary: the median of each of up to MAX_BINS equal-width step bins (two
  points or more per bin on average). Medians ignore single spikes.
- Noise is estimated robustly (median absolute differences, see _summarise). A difference counts
  only beyond NOISE_Z standard errors of it.
- On top of the noise test each check has a relative threshold, documented at its constant below.
- Fewer than MIN_POINTS finite points: no shape verdict at all (no alarm on a run that just started).
- A NaN or infinite value is always a finding, whatever the length, and the first one is named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_POINTS = 8
MAX_BINS = 40
NOISE_Z = 3.0
# Diverging: the training loss ends above where it started, or has climbed back by at least this
# share of what it had gained.
REBOUND = 0.5
# Overfitting: validation loss ended at least this share of max(|its minimum|, its own improvement)
# above its minimum, for the last fifth of the run ...
OVERFIT_RISE = 0.05
# ... while the training loss fell by at least this share of its level since that minimum.
TRAIN_FALL = 0.02
# Still decreasing: over the last third of the steps the loss fell by at least this share of all
# it has gained since the start (an exponential decay run for 4 time constants falls ~5% there).
STILL_FALLING = 0.05
# Flat: the training loss ended less than this share (or less than the noise) below its start.
FLAT = 0.10
# Relative noise above which a flat loss points to a learning rate that is too high, not too low.
NOISY = 0.25


@dataclass(frozen=True)
class Finding:
    code: str  # nonfinite, diverging, overfitting, underfitting, still_decreasing, too_short, healthy
    severity: str  # error, warning, info, ok
    message: str
    step: int | None = None


@dataclass(frozen=True)
class _Shape:
    steps: np.ndarray  # a logged step near the middle of each bin
    first_steps: np.ndarray  # the first logged step of each bin
    medians: np.ndarray
    head: float  # the level the curve started from: median of its first few points
    head_se: float
    sigma: float  # robust noise of one point
    se: float  # standard error of one bin median

    @property
    def sig(self) -> float:
        """The smallest difference of two bin medians that is more than noise."""
        return NOISE_Z * math.sqrt(2) * self.se


def diagnose(train, validation=None) -> list[Finding]:
    """Findings for a run, the most serious first; exactly one "healthy" finding when nothing is
    wrong and the curve is long enough to tell."""
    curves = {"Training": _arrays(train), "Validation": _arrays(validation)}
    broken = [f for label, curve in curves.items() if curve and (f := _nonfinite(label, *curve))]
    if broken:
        # A run that produced NaN is broken; shape advice about its finite part would mislead.
        return broken
    steps, values = curves["Training"] or (np.empty(0), np.empty(0))
    t = _summarise(steps, values)
    if t is None:
        n = int(np.isfinite(values).sum())
        return [
            Finding(
                "too_short",
                "info",
                f"Only {n} training loss point{'s' * (n != 1)} so far: too few to judge the curve.",
            )
        ]
    v = _summarise(*curves["Validation"]) if curves["Validation"] else None
    if diverging := _diverging(t):
        return [diverging]
    findings = [f for f in (_overfitting(t, v) if v else None, _underfitting(t)) if f]
    if not findings and (still := _still_decreasing(v or t, "Validation" if v else "Training")):
        findings.append(still)
    if not findings:
        which = "Training and validation loss" if v else "Training loss"
        findings.append(
            Finding(
                "healthy",
                "ok",
                f"{which} fell and levelled off: no sign of divergence, over- or underfitting.",
            )
        )
    return findings


def _arrays(curve) -> tuple[np.ndarray, np.ndarray] | None:
    if curve is None:
        return None
    steps, values = (curve.steps, curve.values) if hasattr(curve, "steps") else curve
    steps, values = np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)
    order = np.argsort(steps, kind="stable")
    return steps[order], values[order]


def _nonfinite(label: str, steps: np.ndarray, values: np.ndarray) -> Finding | None:
    bad = np.flatnonzero(~np.isfinite(values))
    if not bad.size:
        return None
    step, value = int(steps[bad[0]]), values[bad[0]]
    what = "NaN" if math.isnan(value) else "infinite"
    return Finding(
        "nonfinite",
        "error",
        f"{label} loss became {what} at step {step}: training diverged. Lower the learning rate "
        "(e.g. tenfold) or clip gradients, and check the inputs for NaN.",
        step,
    )


def _summarise(steps: np.ndarray, values: np.ndarray) -> _Shape | None:
    finite = np.isfinite(values)
    steps, values = steps[finite], values[finite]
    n = int(values.size)
    if n < MIN_POINTS or steps[0] == steps[-1]:
        return None
    n_bins = min(MAX_BINS, n // 2)
    bins = (steps - steps[0]) * n_bins // (steps[-1] - steps[0] + 1)
    cuts = np.flatnonzero(np.diff(bins)) + 1
    groups = np.split(values, cuts)
    step_groups = np.split(steps, cuts)
    medians = np.array([np.median(g) for g in groups])
    counts = np.array([g.size for g in groups])
    if medians.size < 3:
        return None
    # Two estimates of a bin median's standard error. From the points' successive differences
    # (each has √2 σ; a median of k points has about 1.25 σ / √k): right for raw points, but far
    # too large for a downsampled series, whose min/max pairs sit far apart. From the medians'
    # second differences (each has √6 se; a locally straight trend cancels): right for any input,
    # but itself noisy, and too large where the curve bends sharply. The first is used unless it
    # is clearly the larger (a downsampled series); with few medians, the larger of the two.
    k = float(np.median(counts))
    sigma = 1.4826 * float(np.median(np.abs(np.diff(values)))) / math.sqrt(2)
    from_points = 1.2533 * sigma / math.sqrt(k)
    from_medians = 1.4826 * float(np.median(np.abs(np.diff(medians, 2)))) / math.sqrt(6)
    if medians.size < 20:
        se = max(from_points, from_medians)
    else:
        se = from_points if from_points <= 1.5 * from_medians else from_medians
    # The first few points, not the first bin: a curve that drops within its first bin still
    # started high. A tenth of a short curve, up to 1% of a long one (but at least 5 points).
    head = max(1, min(n // 10, max(5, n // 100)))
    return _Shape(
        steps=np.array([g[(g.size - 1) // 2] for g in step_groups]),
        first_steps=np.array([g[0] for g in step_groups]),
        medians=medians,
        head=float(np.median(values[:head])),
        head_se=se * math.sqrt(k / head),  # a median's standard error goes as 1 / √(its points)
        sigma=se * math.sqrt(k) / 1.2533,
        se=se,
    )


def _end(shape: _Shape, share: int) -> tuple[float, float]:
    """Where the curve ended: the median of its last bins (a share of them, at least two), so that
    one noisy bin at the end neither raises nor silences an alarm; and the smallest difference
    between that and one bin median that is more than noise."""
    tail = shape.medians[-max(2, len(shape.medians) // share) :]
    return float(np.median(tail)), NOISE_Z * shape.se * math.sqrt(1 + 1.5708 / tail.size)


def _diverging(t: _Shape) -> Finding | None:
    low_at = int(np.argmin(t.medians))
    # Against t.sig, not the tail's smaller threshold: the lowest of many medians is itself low by
    # chance, and on a flat, noisy curve that alone would look like a climb.
    low, (end, _) = float(t.medians[low_at]), _end(t, 10)
    rise, gained = end - low, max(t.head - low, 0.0)
    above_start = end - t.head > NOISE_Z * math.hypot(t.head_se, t.se)
    # A rebound only counts after a clear gain: on a flat, noisy curve "gained" is noise.
    rebound = gained > 2 * t.sig and rise > REBOUND * gained
    if rise <= t.sig or not (above_start or rebound):
        return None
    # Where the climb began: the first bin after the lowest that is clearly above it (beyond the
    # noise and a tenth of the level, or half the rise). None: the lowest point is the end.
    later = np.flatnonzero(t.medians[low_at:] > low + max(t.sig, min(abs(low) / 10, rise / 2)))
    if not later.size:
        return None
    step = int(t.first_steps[low_at + later[0]])
    return Finding(
        "diverging",
        "error",
        f"Training loss has been rising since about step {step} (from {low:.3g} to {end:.3g}): "
        "training is diverging. Lower the learning rate or clip gradients; keep the checkpoint "
        "from before that step.",
        step,
    )


def _overfitting(t: _Shape, v: _Shape) -> Finding | None:
    best_at = int(np.argmin(v.medians))
    best, (end, sig) = float(v.medians[best_at]), _end(v, 5)
    rise = end - best
    if rise <= sig or rise < OVERFIT_RISE * max(abs(best), v.head - best):
        return None
    step = int(v.steps[best_at])
    train_then, (train_end, train_sig) = float(np.interp(step, t.steps, t.medians)), _end(t, 5)
    fall = train_then - train_end
    if fall <= train_sig or fall < TRAIN_FALL * abs(train_then):
        return None
    return Finding(
        "overfitting",
        "warning",
        f"Validation loss has risen since about step {step} (from {best:.3g} to {end:.3g}) while "
        f"training loss kept falling ({train_then:.3g} to {train_end:.3g}): the model is overfitting. "
        f"Regularise (weight decay, dropout, augmentation, more data) or stop early at step {step}.",
        step,
    )


def _underfitting(t: _Shape) -> Finding | None:
    level, (end, _) = abs(t.head), _end(t, 10)
    # An improvement within the noise of the starting level and the last bin is no improvement.
    # Capped at half the level: a loss that halved is not flat, however noisy it looks.
    noise = min(NOISE_Z * math.hypot(t.head_se, t.se), level / 2)
    if level == 0 or t.head - end >= max(FLAT * level, noise):
        return None
    message = (
        f"Training loss stayed flat near its starting level ({t.head:.3g} to {end:.3g}): the model "
        "is not learning — underfitting. Raise the learning rate or use a bigger model, and check "
        "that the labels match the inputs."
    )
    if t.sigma > NOISY * level:
        message += " The loss is also very noisy, which rather points to a learning rate that is too high."
    return Finding("underfitting", "warning", message)


def _still_decreasing(shape: _Shape, label: str) -> Finding | None:
    tail = max(3, len(shape.medians) // 3)
    x, y = shape.steps[-tail:].astype(np.float64), shape.medians[-tail:]
    if x[-1] == x[0]:
        return None
    slope = float(np.polyfit(x, y, 1)[0])
    span = float(x[-1] - x[0])
    drop = -slope * span
    # Standard error of a least-squares slope through the bin medians, times the span.
    drop_noise = NOISE_Z * shape.se * span / math.sqrt(float(((x - x.mean()) ** 2).sum()))
    gained = shape.head - float(shape.medians.min())
    if drop <= drop_noise or drop < STILL_FALLING * gained or gained <= 0:
        return None
    return Finding(
        "still_decreasing",
        "info",
        f"{label} loss is still falling at the end (by about {drop:.3g} over the last {int(span)} "
        "steps): the model has not converged yet — train longer.",
    )
