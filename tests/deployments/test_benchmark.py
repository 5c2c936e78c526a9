"""Benchmarks of a real export: ONNX Runtime beside the original torch model in one job, on the
validation rows of the run's version, and the project's targets marked met or missed from the
numbers (engineering targets) or the validation accuracy (accuracy targets)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from deployments.benchmark.services import benchmark_start, options_check
from deployments.models import Benchmark
from experiments.checkpoints import MODEL_FILE
from experiments.evaluation.rebuild import download
from experiments.inputs import load_inputs
from prakriya.jobs.models import JobState
from prakriya.jobs.runner import job_execute
from projects.models import Target, TimelineEvent
from tests.deployments.helpers import MLP, digits_version, exported, trained_run

OPTIONS = {"batch_sizes": [1, 32], "iterations": 10, "warmup": 2, "threads": 1}


@pytest.mark.django_db(transaction=True)
def test_a_benchmark_measures_onnx_beside_torch_and_marks_each_target(project, lead, engineer, viewer):
    digits = digits_version(project, lead)
    Target.objects.create(project=project, metric="latency p95", comparator="<=", threshold=1000, unit="ms")
    Target.objects.create(project=project, metric="model_size", comparator="<=", threshold=0.000001, unit="MB")
    Target.objects.create(project=project, metric="accuracy", comparator=">=", threshold=0.5, is_primary=True)
    Target.objects.create(project=project, metric="precision", comparator=">=", threshold=0.9,
                          condition="at recall 0.8")
    run = trained_run(digits, engineer, trainer="mlp", config=MLP)
    export = exported(run, engineer)
    with pytest.raises(PermissionDenied):
        benchmark_start(export=export, actor=viewer, options=OPTIONS)

    benchmark = benchmark_start(export=export, actor=engineer, options=OPTIONS)
    job_execute(benchmark.job_id)

    benchmark.refresh_from_db()
    assert benchmark.job.state == JobState.SUCCEEDED, (benchmark.job.message, benchmark.job.log)
    results = benchmark.results
    assert results["onnx"]["engine"] == "ONNX Runtime" and results["original"]["engine"] == "PyTorch eager"
    for engine in ("onnx", "original"):
        for size in ("1", "32"):
            row = results[engine]["batches"][size]
            latency = row["latency_ms"]
            assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
            assert row["calls"] == 10 and row["warmup"] == 2 and row["throughput"] > 0
        assert results[engine]["peak_rss_delta_mb"] >= 0
    assert results["onnx"]["model_size_mb"] == export.size_bytes / 1e6
    assert results["original"]["model_size_mb"] == len(download(run.mlflow_run_id, MODEL_FILE)) / 1e6
    machine = results["machine"]
    assert machine["providers"] == ["CPUExecutionProvider"] and machine["threads"] == 1
    assert machine["cpu"] and machine["logical_cores"] >= 1 and machine["onnxruntime"] and machine["torch"]
    assert results["inputs"]["items"] == len(load_inputs(version=digits).data.y_val)
    assert results["speedup"]["1"]["p50"] > 0

    targets = {row["metric"]: row for row in benchmark.targets}
    page = reverse("deployments:benchmark", args=[project.slug, benchmark.pk])
    assert targets["latency p95"]["met"] is True and targets["latency p95"]["url"] == page
    assert targets["latency p95"]["value"] == results["onnx"]["batches"]["1"]["latency_ms"]["p95"]
    assert targets["model_size"]["met"] is False
    assert targets["model_size"]["value"] == pytest.approx(export.size_bytes / 1e6)
    assert targets["accuracy"]["met"] is True and targets["accuracy"]["value"] == export.metrics["val_accuracy"]
    assert targets["precision"]["met"] is None and targets["precision"]["value"] is None
    assert benchmark.inside_targets is False and benchmark.finished_at is not None
    # The export's card now reads its engineering targets from this benchmark.
    export.refresh_from_db()
    card_targets = {row["metric"]: row for row in export.card["targets"]}
    assert card_targets["latency p95"]["met"] is True and card_targets["latency p95"]["url"] == page
    assert export.card["benchmark"] == {"id": benchmark.pk, "url": page}
    assert TimelineEvent.objects.filter(project=project, verb="benchmark_done").count() == 1


def test_benchmark_options_are_bounded():
    assert options_check(None) == {"batch_sizes": [1, 32], "iterations": 100, "warmup": 10, "threads": 1}
    assert options_check({"batch_sizes": "64, 1"})["batch_sizes"] == [1, 64]
    for bad in ({"batch_sizes": []}, {"batch_sizes": [1, 2, 3, 4]}, {"batch_sizes": [0]}, {"batch_sizes": [257]},
                {"iterations": 4}, {"iterations": 1001}, {"warmup": -1}, {"threads": 0}, {"threads": 10_000},
                {"iterations": True}, {"iterations": "many"}, {"batch_sizes": ["x"]}, {"seconds": 5}):
        with pytest.raises(ValidationError):
            options_check(bad)


@pytest.mark.django_db
def test_only_a_ready_export_is_benchmarked(project, engineer):
    from deployments.models import ModelExport
    from tests.experiments.runs_helpers import logged_run

    run = logged_run(project, name="r")
    pending = ModelExport.objects.create(project=project, run=run)
    with pytest.raises(ValidationError, match="ready"):
        benchmark_start(export=pending, actor=engineer)
    assert not Benchmark.objects.exists()
