"""Downsampling a metric series for the page: at most a few thousand points, shape kept.

The method is min/max bucketing (M4: Jugel et al., "M4: A Visualization-Oriented Time Series Data
Aggregation", VLDB 2014). The step range is cut into equal-width buckets and each bucket keeps its
first and last point and its lowest and highest finite value. A line drawn through those points at
about one bucket per pixel column covers exactly the pixels the full series would, so every spike
survives, up or down. Each bucket is independent of the others, so the whole thing is a handful of
numpy passes: 1,000,000 points take a few milliseconds.

Why not LTTB (largest triangle three buckets) by default: it keeps ONE point per bucket, chosen by
triangle area against the previous bucket's choice. A spike next to a bigger one can be dropped, a
NaN has no area at all, and the dependence on the previous bucket makes it a Python loop. On a
training curve the spikes (a bad batch, an unstable learning rate) are what a person looks for.

Non-finite values (MLflow records NaN and ±inf) stay in the same arrays, in step order, so nothing
about them is lost or reordered: each bucket also keeps its first and last non-finite point. The
first bad step of the whole series is therefore always kept (it is the first non-finite point of
its bucket); the figure draws these points as markers, the diagnostics name the first one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

DEFAULT_MAX_POINTS = 2000
# Points a bucket can contribute: first, last, min, max; plus its first and last non-finite one.
_PER_BUCKET = 4
_PER_BUCKET_WITH_NONFINITE = 6
_MAGIC = b"PKC1"
_HEADER = struct.Struct("<4sqq")


@dataclass(frozen=True, eq=False)
class Series:
    """A metric series in step order. `values` may hold NaN and ±inf; `total` is the number of
    points of the full series this one was drawn from (equal to len(self) when not downsampled)."""

    steps: np.ndarray
    values: np.ndarray
    total: int

    def __len__(self) -> int:
        return int(self.steps.size)

    @property
    def nonfinite(self) -> np.ndarray:
        """Mask of the points that cannot be drawn on an axis (NaN, inf, -inf)."""
        return ~np.isfinite(self.values)

    def to_bytes(self) -> bytes:
        """A compact, pickle-free form for a cache: a header and the two raw little-endian arrays."""
        header = _HEADER.pack(_MAGIC, self.total, len(self))
        return header + self.steps.astype("<i8").tobytes() + self.values.astype("<f8").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Series:
        """Inverse of to_bytes; raises ValueError on anything it did not write."""
        if len(data) < _HEADER.size:
            raise ValueError("not a cached series: too short")
        magic, total, count = _HEADER.unpack_from(data)
        if magic != _MAGIC or count < 0 or len(data) != _HEADER.size + 16 * count:
            raise ValueError("not a cached series: bad header or length")
        steps = np.frombuffer(data, dtype="<i8", count=count, offset=_HEADER.size)
        values = np.frombuffer(data, dtype="<f8", count=count, offset=_HEADER.size + 8 * count)
        return cls(steps.astype(np.int64), values.astype(np.float64), int(total))


def downsample(steps, values, max_points: int = DEFAULT_MAX_POINTS) -> Series:
    """At most `max_points` points of the series (steps, values), sorted by step, keeping per
    bucket of steps the first, last, minimum and maximum point and the first and last non-finite
    one. A series no longer than `max_points` comes back whole."""
    steps = np.asarray(steps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if steps.ndim != 1 or steps.shape != values.shape:
        raise ValueError("steps and values must be one-dimensional arrays of the same length")
    if max_points < _PER_BUCKET_WITH_NONFINITE:
        raise ValueError(f"max_points must be at least {_PER_BUCKET_WITH_NONFINITE}")
    n = steps.size
    if n > 1 and np.any(steps[1:] < steps[:-1]):
        # Stable, so points logged at the same step keep their (timestamp) order.
        order = np.argsort(steps, kind="stable")
        steps, values = steps[order], values[order]
    if n <= max_points:
        return Series(steps.copy(), values.copy(), n)

    finite = np.isfinite(values)
    n_nonfinite = int(n - np.count_nonzero(finite))
    starts = _bucket_starts(steps, bucket_count(max_points, n_nonfinite))
    ends = np.append(starts[1:], n)
    keep = [starts, ends - 1]
    keep.append(_first_extreme(np.where(finite, values, np.inf), finite, starts, ends, np.minimum))
    keep.append(_first_extreme(np.where(finite, values, -np.inf), finite, starts, ends, np.maximum))
    if n_nonfinite:
        bad = np.flatnonzero(~finite)
        first, last = _first_and_last_per_bucket(bad, starts)
        keep += [first, last]
    kept = np.unique(np.concatenate(keep))
    return Series(steps[kept], values[kept], n)


def bucket_count(max_points: int, n_nonfinite: int) -> int:
    """As many buckets as the cap allows in the worst case. The non-finite points add at most
    min(2 per bucket, how many there are), so one NaN in a long run costs one bucket, not a third
    of the resolution."""
    few = (max_points - n_nonfinite) // _PER_BUCKET
    if n_nonfinite <= (_PER_BUCKET_WITH_NONFINITE - _PER_BUCKET) * few:
        return few
    return max_points // _PER_BUCKET_WITH_NONFINITE


def bucket_of(step: int, first_step: int, last_step: int, n_buckets: int) -> int:
    """The bucket a step falls in: equal-width buckets over [first_step, last_step], exact integer
    arithmetic (steps are 64-bit; floats would misplace steps near bucket edges)."""
    return (step - first_step) * n_buckets // (last_step - first_step + 1)


def _bucket_starts(steps: np.ndarray, n_buckets: int) -> np.ndarray:
    """Index of the first point of every non-empty bucket. The input is sorted, so a bucket is a
    contiguous slice and its start is found by binary search for its lowest step: the smallest
    step s with bucket_of(s) == k is first + ceil(k * span / n_buckets)."""
    first, last = int(steps[0]), int(steps[-1])
    span = last - first + 1
    lowest = np.array([first + -(-k * span // n_buckets) for k in range(n_buckets)], dtype=np.int64)
    starts = np.unique(np.searchsorted(steps, lowest, side="left"))
    return starts[starts < steps.size]


def _first_extreme(filled, finite, starts, ends, ufunc) -> np.ndarray:
    """Index of the first point holding each bucket's extreme (ufunc = np.minimum / np.maximum) of
    the finite values; `filled` has the non-finite ones replaced by the ufunc's identity so they
    never win. Buckets without a finite value contribute nothing."""
    extremes = ufunc.reduceat(filled, starts)
    hits = np.flatnonzero(finite & (filled == np.repeat(extremes, ends - starts)))
    first, _ = _first_and_last_per_bucket(hits, starts)
    return first


def _first_and_last_per_bucket(indices: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of sorted point indices, the first and the last one falling in each bucket."""
    if indices.size == 0:
        return indices, indices
    buckets = np.searchsorted(starts, indices, side="right") - 1
    change = buckets[1:] != buckets[:-1]
    return indices[np.append(True, change)], indices[np.append(change, True)]
