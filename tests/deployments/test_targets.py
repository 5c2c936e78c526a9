"""Which project targets a deployment measures: names matched tolerantly, units converted, the
rest left as not measured."""

from __future__ import annotations

import pytest

from deployments import targets
from projects.models import Target


def _target(metric, comparator="<=", threshold=1.0, unit="", condition=""):
    return Target(metric=metric, comparator=comparator, threshold=threshold, unit=unit, condition=condition)


@pytest.mark.parametrize(("metric", "kind", "stat"), [
    ("latency_p95", "latency", "p95"), ("Latency P95", "latency", "p95"), ("p99-latency", "latency", "p99"),
    ("median latency", "latency", "p50"), ("latency", "latency", "p95"), ("Model size", "size", "size"),
    ("peak memory", "memory", "peak"), ("RAM", "memory", "peak"), ("throughput", "throughput", "throughput"),
    ("Accuracy", "accuracy", "accuracy"), ("macro-F1", "accuracy", "macro_f1"),
])
def test_target_names_are_matched_tolerantly(metric, kind, stat):
    measure = targets.measure_of(_target(metric))
    assert (measure.kind, measure.stat) == (kind, stat)


def test_unmeasured_targets_and_units_are_recognised():
    assert targets.measure_of(_target("precision", condition="at recall 0.9")) is None
    assert targets.measure_of(_target("revenue")) is None
    assert targets.measure_of(_target("latency_p95", unit="parsecs")) is None
    assert targets.measure_of(_target("latency_p95", condition="at batch 32")).batch == 32


def test_values_are_compared_in_the_targets_own_unit():
    seconds = _target("latency_p95", threshold=0.01, unit="s")
    row = targets.target_row(seconds, value=12.0, source="benchmark", url="/b/",
                             factor=targets.measure_of(seconds).factor)
    assert row["value"] == pytest.approx(0.012) and row["met"] is False
    gigabytes = _target("model_size", threshold=1, unit="GB")
    row = targets.target_row(gigabytes, value=500.0, source="benchmark", url="/b/",
                             factor=targets.measure_of(gigabytes).factor)
    assert row["value"] == pytest.approx(0.5) and row["met"] is True
    percent = _target("accuracy", comparator=">=", threshold=90, unit="%")
    row = targets.target_row(percent, value=0.93, source="validation", url="/e/",
                             factor=targets.measure_of(percent).factor)
    assert row["value"] == pytest.approx(93) and row["met"] is True


def test_a_check_without_benchmark_or_sealed_result_says_so():
    rows = targets.check(
        targets=[_target("latency_p50", threshold=5, unit="ms"), _target("accuracy", ">=", 0.9), _target("nps")],
        validation={"accuracy": 0.95, "macro_f1": 0.9}, validation_url="/export/",
        sealed=None, sealed_url="", benchmark=None, benchmark_url="",
    )
    latency, accuracy, other = rows
    assert latency["met"] is None and latency["note"] == "No benchmark yet."
    assert accuracy["met"] is True and accuracy["url"] == "/export/" and "validation" in accuracy["source"]
    assert other["met"] is None and other["value"] is None
