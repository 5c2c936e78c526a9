"""Min/max downsampling: extremes and non-finite points survive, order and cap hold, and the
vectorised code agrees with a plain loop over the points."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.curves.downsample import (
    DEFAULT_MAX_POINTS,
    Series,
    bucket_count,
    bucket_of,
    downsample,
)


def naive_downsample(steps, values, max_points):
    """The definition, one point at a time: per equal-width step bucket the first and last point,
    the first point holding the lowest and the highest finite value, and the first and last
    non-finite point."""
    order = sorted(range(len(steps)), key=lambda i: steps[i])  # stable: ties keep their order
    steps = [int(steps[i]) for i in order]
    values = [float(values[i]) for i in order]
    if len(steps) <= max_points:
        return steps, values
    n_buckets = bucket_count(max_points, sum(not math.isfinite(v) for v in values))
    buckets: dict[int, list[int]] = {}
    for i, step in enumerate(steps):
        buckets.setdefault(bucket_of(step, steps[0], steps[-1], n_buckets), []).append(i)
    kept = set()
    for members in buckets.values():
        kept.update((members[0], members[-1]))
        finite = [i for i in members if math.isfinite(values[i])]
        if finite:
            kept.add(min(finite, key=lambda i: (values[i], i)))
            kept.add(min(finite, key=lambda i: (-values[i], i)))
        bad = [i for i in members if not math.isfinite(values[i])]
        if bad:
            kept.update((bad[0], bad[-1]))
    return [steps[i] for i in sorted(kept)], [values[i] for i in sorted(kept)]


def _noisy_curve(n, seed=0):
    rng = np.random.default_rng(seed)
    steps = np.arange(n, dtype=np.int64)
    return steps, np.exp(-steps / (n / 5)) + rng.normal(0, 0.02, n)


def test_short_series_comes_back_whole():
    steps, values = _noisy_curve(500)
    values[7] = np.nan
    series = downsample(steps, values, max_points=500)
    assert np.array_equal(series.steps, steps)
    assert np.array_equal(series.values, values, equal_nan=True)
    assert series.total == 500


@pytest.mark.parametrize("steps, values", [([], []), ([3], [0.5]), ([3], [float("nan")])])
def test_empty_and_one_point_series(steps, values):
    series = downsample(steps, values)
    assert len(series) == len(steps) == series.total
    assert series.steps.dtype == np.int64 and series.values.dtype == np.float64


def test_all_nan_series_keeps_markers_within_the_cap():
    steps = np.arange(100_000)
    series = downsample(steps, np.full(100_000, np.nan), max_points=600)
    assert 0 < len(series) <= 600
    assert np.isnan(series.values).all()
    assert series.steps[0] == 0 and series.steps[-1] == 99_999


def test_spikes_in_both_directions_and_the_first_nan_survive():
    steps, values = _noisy_curve(1_000_000)
    values[123_457] = 40.0
    values[654_321] = -3.0
    values[777_777] = np.nan
    values[700_000] = np.inf
    values[800_000:] = np.nan  # diverged for good: a long non-finite tail
    series = downsample(steps, values, max_points=2000)
    assert len(series) <= 2000
    assert series.values[np.isfinite(series.values)].max() == 40.0
    assert series.values[np.isfinite(series.values)].min() == -3.0
    assert series.steps[series.nonfinite][0] == 700_000
    assert series.steps[np.isnan(series.values)][0] == 777_777
    assert 700_000 in series.steps[np.isposinf(series.values)]
    assert np.isnan(series.values[-1])
    assert series.steps[0] == 0 and series.steps[-1] == 999_999


def test_one_nan_in_a_long_run_costs_almost_no_resolution():
    steps, values = _noisy_curve(100_000)
    values[50] = np.nan
    assert len(downsample(steps, values, max_points=2000)) > 1900


def test_output_is_sorted_by_step_even_from_unsorted_input():
    steps, values = _noisy_curve(50_000, seed=3)
    shuffled = np.random.default_rng(1).permutation(steps.size)
    series = downsample(steps[shuffled], values[shuffled], max_points=1000)
    assert np.all(np.diff(series.steps) >= 0)
    reference = downsample(steps, values, max_points=1000)
    assert np.array_equal(series.steps, reference.steps)
    assert np.array_equal(series.values, reference.values)


@pytest.mark.parametrize("max_points", [6, 7, 100, 2000])
def test_never_more_points_than_the_cap(max_points):
    rng = np.random.default_rng(max_points)
    steps = np.sort(rng.integers(0, 10**9, 200_000))
    values = rng.standard_normal(200_000)
    values[rng.integers(0, 200_000, 5_000)] = np.nan
    assert len(downsample(steps, values, max_points=max_points)) <= max_points


@pytest.mark.parametrize("seed", range(12))
def test_equals_the_naive_reference_on_random_data(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 6000))
    # Irregular steps with repeats (a resumed run logs some steps twice) and big gaps.
    steps = np.sort(rng.integers(0, int(rng.choice([n // 3, n, 10**12])) + 1, n))
    values = rng.standard_normal(n).round(1)  # rounding makes ties for min and max
    bad = rng.random(n) < rng.choice([0.0, 0.01, 0.3])
    values[bad] = rng.choice([np.nan, np.inf, -np.inf], int(bad.sum()))
    max_points = int(rng.integers(6, 400))
    series = downsample(steps, values, max_points=max_points)
    naive_steps, naive_values = naive_downsample(steps, values, max_points)
    assert series.steps.tolist() == naive_steps
    assert np.array_equal(series.values, np.array(naive_values, dtype=float), equal_nan=True)
    assert len(series) <= max_points and series.total == n


def test_all_steps_equal_collapses_to_one_bucket():
    # mlflow.log_metric without step= logs every point at step 0.
    values = np.random.default_rng(0).standard_normal(10_000)
    series = downsample(np.zeros(10_000, dtype=np.int64), values, max_points=100)
    assert len(series) <= 4
    assert series.values.max() == values.max() and series.values.min() == values.min()


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        downsample([1, 2, 3], [1.0, 2.0])
    with pytest.raises(ValueError):
        downsample([1, 2, 3], [1.0, 2.0, 3.0], max_points=5)


def test_a_million_points_come_down_to_the_cap_with_the_nan_kept():
    # Its speed is measured in bench/, never asserted here.
    steps, values = _noisy_curve(1_000_000)
    values[10] = np.nan
    series = downsample(steps, values)
    assert len(series) <= DEFAULT_MAX_POINTS
    assert np.isnan(series.values).any()


def test_series_round_trips_through_bytes_without_pickle():
    steps, values = _noisy_curve(10_000)
    values[3] = np.nan
    values[4] = -np.inf
    series = downsample(steps, values, max_points=300)
    again = Series.from_bytes(series.to_bytes())
    assert np.array_equal(again.steps, series.steps)
    assert np.array_equal(again.values, series.values, equal_nan=True)
    assert again.total == 10_000


@pytest.mark.parametrize(
    "data",
    [b"", b"PKC1", b"XXXX" + bytes(16), b"PKC1" + bytes(8) + (5).to_bytes(8, "little")],
    ids=["empty", "magic-only", "wrong-magic", "body-missing"],
)
def test_from_bytes_refuses_what_it_did_not_write(data):
    with pytest.raises(ValueError):
        Series.from_bytes(data)
