"""Which of a project's targets a deployment measures, and in what unit.

People write targets on the project page in their own words ("latency p95", "p95_latency",
"Model size", "memory"); the names are matched tolerantly, as experiments/evaluation/scoring.py
does for accuracy metrics. Engineering targets (latency, model size, memory, throughput) are
measured by a benchmark; accuracy targets by the export's validation accuracy or a sealed test
evaluation. A value is converted to the target's own unit (ms or s, kB, MB or GB) before it is
compared, so "model_size <= 0.5 GB" and "model_size <= 500 MB" read the same.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

LATENCY, SIZE, MEMORY, THROUGHPUT, ACCURACY = "latency", "size", "memory", "throughput", "accuracy"

# Normalised target metric name → (kind, statistic). A bare "latency" is read as p95: a target on
# latency is a promise about the slow calls, not the typical one.
_NAMES: dict[str, tuple[str, str]] = {}
for _stat in ("p50", "p95", "p99"):
    for _name in (f"latency_{_stat}", f"{_stat}_latency", _stat, f"latency_{_stat}_ms", f"{_stat}_latency_ms"):
        _NAMES[_name] = (LATENCY, _stat)
for _name in ("latency_median", "median_latency"):
    _NAMES[_name] = (LATENCY, "p50")
for _name in ("latency", "latency_ms", "inference_latency", "prediction_latency"):
    _NAMES[_name] = (LATENCY, "p95")
for _name in ("model_size", "size", "model_size_mb", "file_size", "model_file_size", "onnx_size", "size_mb"):
    _NAMES[_name] = (SIZE, "size")
for _name in ("memory", "peak_memory", "memory_mb", "ram", "rss", "peak_rss", "memory_usage", "model_memory"):
    _NAMES[_name] = (MEMORY, "peak")
for _name in ("throughput", "items_per_second", "items_per_s", "predictions_per_second", "qps", "rps"):
    _NAMES[_name] = (THROUGHPUT, "throughput")
for _name in ("accuracy", "acc", "val_accuracy", "validation_accuracy", "test_accuracy"):
    _NAMES[_name] = (ACCURACY, "accuracy")
for _name in ("macro_f1", "f1_macro", "val_macro_f1", "test_macro_f1", "macro_f1_score"):
    _NAMES[_name] = (ACCURACY, "macro_f1")

# Units a value may be stated in, as a factor to the measured unit (ms for latency, MB for size
# and memory, items/s for throughput).
_LATENCY_UNITS = {"": 1.0, "ms": 1.0, "millisecond": 1.0, "milliseconds": 1.0, "s": 1000.0, "sec": 1000.0,
                  "second": 1000.0, "seconds": 1000.0, "us": 0.001, "µs": 0.001, "microseconds": 0.001}
_SIZE_UNITS = {"": 1.0, "mb": 1.0, "mib": 1.048576, "kb": 0.001, "kib": 0.001024, "gb": 1000.0, "gib": 1073.741824,
               "b": 1e-6, "bytes": 1e-6, "byte": 1e-6}
# A ratio of 0.93 is 93 %.
_RATIO_UNITS = {"": 1.0, "ratio": 1.0, "fraction": 1.0, "%": 0.01, "percent": 0.01}
_BATCH = re.compile(r"batch(?:\s*size)?\s*(?:of\s*|=\s*)?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Measure:
    kind: str  # LATENCY | SIZE | MEMORY | THROUGHPUT | ACCURACY
    stat: str  # p50/p95/p99, size, peak, throughput, accuracy/macro_f1
    factor: float  # measured unit → the target's unit: value_in_target_unit = measured / factor
    batch: int | None  # a latency or throughput target "at batch N"; None: batch 1


def _normalise(metric: str) -> str:
    name = re.sub(r"[\s\-./]+", "_", metric.strip().lower())
    return re.sub(r"_+", "_", name).strip("_")


def measure_of(target: Any) -> Measure | None:
    """What a target asks to be measured, or None when a deployment does not measure it (a
    precision at a recall, a business metric…). A condition other than "at batch N" is not
    measured here either."""
    found = _NAMES.get(_normalise(target.metric))
    if found is None:
        return None
    kind, stat = found
    unit = (target.unit or "").strip().lower()
    condition = (target.condition or "").strip()
    batch = None
    if condition:
        match = _BATCH.search(condition)
        if kind not in (LATENCY, THROUGHPUT) or match is None:
            return None
        batch = int(match.group(1))
    if kind == LATENCY:
        factor = _LATENCY_UNITS.get(unit)
    elif kind in (SIZE, MEMORY):
        factor = _SIZE_UNITS.get(unit)
    elif kind == THROUGHPUT:
        factor = 1.0 if unit in ("", "items/s", "per_s", "/s", "rps", "qps", "items_per_s") else None
    else:
        factor = _RATIO_UNITS.get(unit)
    if factor is None:
        return None
    return Measure(kind=kind, stat=stat, factor=factor, batch=batch)


def target_row(target: Any, *, value: float | None, source: str, url: str, note: str = "",
               factor: float = 1.0) -> dict[str, Any]:
    """One checked target as it is stored and shown: `value` is in the measured unit and is
    converted to the target's own before the comparison."""
    measured = value is not None and isinstance(value, int | float) and math.isfinite(value)
    shown = float(value) / factor if measured else None
    return {
        "target": str(target),
        "metric": target.metric,
        "unit": target.unit,
        "primary": bool(target.is_primary),
        "value": shown,
        "met": bool(target.is_met_by(shown)) if shown is not None else None,
        "source": source if measured else "",
        "url": url if measured else "",
        "note": note,
    }


# --- The benchmark's results, read by the target checks --------------------------------------
#
# Benchmark.results["onnx"] (and ["original"]) hold, per engine:
#   {"batches": {"<size>": {"latency_ms": {"p50", "p95", "p99", "mean"}, "throughput": items/s}},
#    "peak_rss_delta_mb": MB, "model_size_mb": MB or None}


def engineering_value(engine: dict[str, Any], measure: Measure) -> tuple[float | None, str]:
    """The benchmarked value a target asks for (in ms, MB or items/s), with a note when it was
    not measured."""
    batch = str(measure.batch or 1)
    if measure.kind in (LATENCY, THROUGHPUT):
        row = (engine.get("batches") or {}).get(batch)
        if row is None:
            return None, f"The benchmark did not run batch {batch}."
        if measure.kind == THROUGHPUT:
            return row.get("throughput"), ""
        return (row.get("latency_ms") or {}).get(measure.stat), ""
    if measure.kind == SIZE:
        return engine.get("model_size_mb"), ""
    return engine.get("peak_rss_delta_mb"), ""


def check(
    *,
    targets,
    validation: dict[str, float] | None,
    validation_url: str,
    sealed: dict[str, Any] | None,
    sealed_url: str,
    benchmark: dict[str, Any] | None,
    benchmark_url: str,
) -> list[dict[str, Any]]:
    """Every project target, met or missed from what is known: engineering targets from a
    benchmark's ONNX Runtime numbers, accuracy targets from the sealed test result when there is
    one (the unbiased estimate) and otherwise from validation; the rest "not measured" (met None).
    `validation` and `sealed` map accuracy / macro_f1 to ratios."""
    rows = []
    for target in targets:
        measure = measure_of(target)
        if measure is None:
            rows.append(target_row(target, value=None, source="", url="",
                                   note="Not measured by an export or a benchmark."))
            continue
        if measure.kind == ACCURACY:
            if sealed is not None and sealed.get(measure.stat) is not None:
                rows.append(target_row(target, value=sealed[measure.stat], source="sealed test evaluation",
                                       url=sealed_url, factor=measure.factor))
            elif validation is not None and validation.get(measure.stat) is not None:
                rows.append(target_row(target, value=validation[measure.stat], source="validation (ONNX model)",
                                       url=validation_url, factor=measure.factor,
                                       note="No sealed test result yet: validation is an optimistic estimate."))
            else:
                rows.append(target_row(target, value=None, source="", url="", note="Not measured yet."))
            continue
        engine = (benchmark or {}).get("onnx")
        if engine is None:
            rows.append(target_row(target, value=None, source="", url="", note="No benchmark yet."))
            continue
        value, note = engineering_value(engine, measure)
        rows.append(target_row(target, value=value, source="benchmark (ONNX Runtime)", url=benchmark_url,
                               factor=measure.factor, note=note))
    return rows
