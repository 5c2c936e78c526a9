"""Writes of benchmarks: starting one on a ready export (engineers and the lead), and what its job
records. Every option is bounded: a benchmark holds an export worker for its whole run."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from deployments import kinds
from deployments.models import Benchmark, ExportState, ModelExport
from prakriya.jobs.services import job_enqueue
from projects import policy
from projects.services import timeline_record

DEFAULT_OPTIONS: dict[str, Any] = {"batch_sizes": [1, 32], "iterations": 100, "warmup": 10, "threads": 1}
MAX_BATCH_SIZES = 3
MAX_BATCH = 256
ITERATIONS = (5, 1000)
WARMUP = (0, 100)
MAX_THREADS = 8


def _integer(options: dict[str, Any], name: str, low: int, high: int) -> int:
    value = options.get(name, DEFAULT_OPTIONS[name])
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError({name: [f"A whole number between {low} and {high}."]})
    try:
        number = int(value)
    except ValueError:
        raise ValidationError({name: [f"A whole number between {low} and {high}."]}) from None
    if not low <= number <= high:
        raise ValidationError({name: [f"A whole number between {low} and {high}."]})
    return number


def options_check(options: dict[str, Any] | None) -> dict[str, Any]:
    """The options with their defaults, each within its bounds (ValidationError naming the field)."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ValidationError(f"Unknown benchmark options: {', '.join(unknown)}.")
    sizes = options.get("batch_sizes", DEFAULT_OPTIONS["batch_sizes"])
    if isinstance(sizes, str):
        sizes = [part for part in sizes.replace(",", " ").split() if part]
    message = f"One to {MAX_BATCH_SIZES} batch sizes, each between 1 and {MAX_BATCH}."
    if not isinstance(sizes, list | tuple) or not 1 <= len(sizes) <= MAX_BATCH_SIZES:
        raise ValidationError({"batch_sizes": [message]})
    try:
        sizes = sorted({int(s) for s in sizes if not isinstance(s, bool | float)})
    except (TypeError, ValueError):
        raise ValidationError({"batch_sizes": [message]}) from None
    if not sizes or not all(1 <= s <= MAX_BATCH for s in sizes):
        raise ValidationError({"batch_sizes": [message]})
    threads_high = max(1, min(MAX_THREADS, os.cpu_count() or 1))
    return {
        "batch_sizes": sizes,
        "iterations": _integer(options, "iterations", *ITERATIONS),
        "warmup": _integer(options, "warmup", *WARMUP),
        "threads": _integer(options, "threads", 1, threads_high),
    }


@transaction.atomic
def benchmark_start(*, export: ModelExport, actor: AbstractBaseUser, options: dict[str, Any] | None = None
                    ) -> Benchmark:
    project = export.project
    policy.require(user=actor, project=project, action=policy.MANAGE_DEPLOYMENTS, what="benchmark models")
    checked = options_check(options)
    if export.state != ExportState.READY:
        raise ValidationError("Only a ready export can be benchmarked.")
    benchmark = Benchmark.objects.create(project=project, export=export, created_by=actor, options=checked)
    job = job_enqueue(kind=kinds.BENCHMARK, project=project, target=benchmark, created_by=actor,
                      params={"benchmark": benchmark.pk, **checked}, max_attempts=2)
    benchmark.job = job
    benchmark.save(update_fields=["job"])
    return benchmark


# --- Written by the benchmark job (deployments/benchmark/jobs.py) -------------------------------


@transaction.atomic
def benchmark_results_save(*, benchmark: Benchmark, results: dict[str, Any], targets: list[dict[str, Any]]) -> None:
    """The measurements and the targets checked against them; finished from now on."""
    Benchmark.objects.filter(pk=benchmark.pk).update(results=results, targets=targets, finished_at=timezone.now())


@transaction.atomic
def benchmark_complete(*, benchmark_id: int | None, actor: AbstractBaseUser | None) -> Benchmark | None:
    """Records the finished benchmark on the timeline, exactly once (in the transaction that marks
    its job succeeded)."""
    benchmark = Benchmark.objects.select_related("project", "export").filter(pk=benchmark_id).first()
    if benchmark is None:
        return None
    measured = [row for row in benchmark.targets if row.get("met") is not None]
    p95 = ((benchmark.results.get("onnx") or {}).get("batches") or {}).get("1", {}).get("latency_ms", {}).get("p95")
    latency = f"p95 {p95:.2f} ms at batch 1, " if p95 is not None else ""
    timeline_record(
        project=benchmark.project, actor=actor, verb="benchmark_done",
        text=f"Benchmark of {benchmark.export}: {latency}{sum(1 for r in measured if r['met'])} of {len(measured)} "
        "measured targets met",
        data={"benchmark": benchmark.pk},
    )
    return benchmark
