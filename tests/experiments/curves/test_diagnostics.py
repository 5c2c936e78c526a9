"""Loss-curve diagnostics on synthetic curves: every case, clean and noisy, full and downsampled,
and no false alarm on short or merely noisy curves."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.curves.diagnostics import Finding, diagnose
from experiments.curves.downsample import downsample

SEEDS = range(8)


def curve(
    n=5000,
    tau=500.0,
    floor=0.3,
    amp=2.0,
    noise=0.02,
    seed=0,
    every=1,
    rise_at=None,
    rise=0.0,
    explode_at=None,
):
    """floor + amp·e^(−step/τ), optionally rising linearly after rise_at (by `rise` per run
    length) or growing exponentially after explode_at, times (1 + relative Gaussian noise);
    logged every `every` steps."""
    rng = np.random.default_rng(seed)
    steps = np.arange(0, n, every)
    clean = floor + amp * np.exp(-steps / tau)
    if rise_at is not None:
        clean = clean + rise * np.maximum(0, steps - rise_at) / n
    if explode_at is not None:
        clean = clean * np.exp(np.maximum(0, steps - explode_at) / (n / 20))
    return steps, clean * (1 + rng.normal(0, noise, steps.size))


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("noise", [0.02, 0.3])
def test_converged_curves_look_healthy(seed, noise):
    train = curve(noise=noise, seed=seed)
    validation = curve(floor=0.4, noise=noise / 3, seed=seed + 100, every=100)
    findings = diagnose(train, validation)
    assert codes(findings) == ["healthy"]
    assert findings[0].severity == "ok" and "validation" in findings[0].message


@pytest.mark.parametrize("seed", SEEDS)
def test_healthy_without_validation_and_when_downsampled(seed):
    steps, values = curve(n=200_000, tau=20_000, noise=0.2, seed=seed)
    assert codes(diagnose((steps, values))) == ["healthy"]
    assert codes(diagnose(downsample(steps, values, 2000))) == ["healthy"]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("noise", [0.02, 0.2])
def test_still_decreasing_says_train_longer(seed, noise):
    findings = diagnose(curve(tau=3000, noise=noise, seed=seed))
    assert codes(findings) == ["still_decreasing"]
    assert findings[0].severity == "info" and "train longer" in findings[0].message


def test_still_decreasing_is_judged_on_validation_when_there_is_one():
    train = curve(tau=3000, seed=1)
    plateaued = curve(tau=300, floor=0.6, seed=2, every=100)
    assert codes(diagnose(train, plateaued)) == ["healthy"]
    findings = diagnose(train, curve(tau=3000, floor=0.4, seed=3, every=100))
    assert codes(findings) == ["still_decreasing"] and findings[0].message.startswith("Validation")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("noise", [0.01, 0.2])
def test_overfitting_names_the_step_to_stop_at(seed, noise):
    train = curve(tau=1500, floor=0.05, noise=noise, seed=seed)
    validation = curve(
        tau=600, floor=0.5, rise_at=2000, rise=0.5, noise=noise / 4, seed=seed + 100, every=100
    )
    findings = diagnose(train, validation)
    assert codes(findings) == ["overfitting"]
    finding = findings[0]
    assert finding.severity == "warning"
    assert 1500 <= finding.step <= 2700  # the validation minimum, near 2000 on this curve
    assert f"step {finding.step}" in finding.message and "Regularise" in finding.message


def test_overfitting_found_from_downsampled_series_too():
    steps, values = curve(n=400_000, tau=120_000, floor=0.05, noise=0.1)
    validation = curve(n=400_000, tau=48_000, floor=0.5, rise_at=160_000, rise=0.5, noise=0.02, every=2000)
    findings = diagnose(downsample(steps, values, 2000), downsample(*validation, 2000))
    assert codes(findings) == ["overfitting"]


def test_validation_rising_while_training_is_flat_too_is_not_called_overfitting():
    train = curve(tau=1e12, amp=0, floor=0.5, noise=0.01)
    validation = curve(tau=1e12, amp=0, floor=0.5, rise_at=2000, rise=0.5, noise=0.01, every=100)
    assert "overfitting" not in codes(diagnose(train, validation))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("noise", [0.02, 0.3])
def test_flat_and_high_is_underfitting(seed, noise):
    findings = diagnose(curve(n=3000, amp=0, floor=2.3, noise=noise, seed=seed))
    assert codes(findings) == ["underfitting"]
    assert "Raise the learning rate" in findings[0].message


def test_flat_and_very_noisy_hints_at_a_learning_rate_too_high():
    findings = diagnose(curve(n=3000, amp=0, floor=2.3, noise=0.6, seed=4))
    assert codes(findings) == ["underfitting"] and "too high" in findings[0].message


def test_fast_convergence_within_the_first_bin_is_not_underfitting():
    # Down from 2.3 to 0.05 within the first 20 of 5000 steps, then flat.
    assert codes(diagnose(curve(tau=5, floor=0.05, amp=2.25, noise=0.02))) == ["healthy"]


@pytest.mark.parametrize("noise", [0.02, 0.3])
def test_diverging_names_the_first_bad_step(noise):
    findings = diagnose(curve(tau=300, explode_at=3000, noise=noise))
    assert codes(findings) == ["diverging"]
    finding = findings[0]
    assert finding.severity == "error" and "Lower the learning rate" in finding.message
    assert 2500 <= finding.step <= 4000


def test_rising_from_the_start_is_diverging():
    steps = np.arange(1000)
    assert codes(diagnose((steps, 1.0 + steps / 200))) == ["diverging"]


@pytest.mark.parametrize(
    "bad, word", [(np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")], ids=["nan", "inf", "-inf"]
)
def test_nan_or_infinite_names_the_first_bad_step(bad, word):
    steps, values = curve()
    values[700] = bad
    values[900:] = np.nan
    findings = diagnose((steps, values))
    assert codes(findings) == ["nonfinite"]
    assert findings[0].step == 700 and f"became {word} at step 700" in findings[0].message
    assert findings[0].severity == "error"


def test_nan_in_validation_is_named_too_and_survives_downsampling():
    steps, values = curve(n=1_000_000, tau=100_000)
    validation = curve(n=1_000_000, tau=100_000, floor=0.4, every=1000)
    validation[1][500] = np.nan  # step 500,000
    findings = diagnose(downsample(steps, values), validation)
    assert [(f.code, f.step) for f in findings] == [("nonfinite", 500_000)]
    assert findings[0].message.startswith("Validation")


@pytest.mark.parametrize("n", [0, 1, 3, 7])
def test_a_few_points_are_too_few_to_judge(n):
    steps, values = curve(n=n, tau=1, noise=0.5)
    findings = diagnose((steps, values), (steps, values[::-1]))
    assert codes(findings) == ["too_short"] and findings[0].severity == "info"


def test_three_points_with_a_nan_still_report_the_nan():
    assert codes(diagnose(([0, 1, 2], [2.3, float("nan"), 1.0]))) == ["nonfinite"]


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("n", [8, 12, 30])
def test_short_noisy_healthy_curves_raise_no_false_alarm(seed, n):
    train = curve(n=n, tau=n / 6, noise=0.1, seed=seed)
    validation = curve(n=n, tau=n / 6, floor=0.45, noise=0.1, seed=seed + 100)
    assert codes(diagnose(train, validation)) == ["healthy"]


def test_unsorted_input_and_series_objects_are_accepted():
    steps, values = curve(tau=300, explode_at=3000)
    order = np.random.default_rng(0).permutation(steps.size)
    assert codes(diagnose((steps[order], values[order]))) == ["diverging"]
    assert codes(diagnose(downsample(steps, values))) == ["diverging"]
