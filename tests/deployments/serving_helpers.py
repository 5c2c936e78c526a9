"""Exports to serve, made without the export job: a small torch network with fixed weights,
exported to ONNX (softmax inside the graph, as the export job's contract says) and stored as an
artifact of a logged run, with the ModelExport row and input schema the export job would write.
The serving tests are about serving; the export job has its own tests."""

from __future__ import annotations

import functools
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deployments import onnx_files
from deployments.models import Benchmark, ExportState, ModelExport
from tests.experiments.runs_helpers import logged_run

CLASSES = [str(d) for d in range(10)]
SHAPE = (1, 8, 8)
N_FEATURES = 64


def digits_module(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(N_FEATURES, 16), nn.ReLU(), nn.Linear(16, len(CLASSES)), nn.Softmax(dim=1)).eval()


@functools.cache
def onnx_bytes_of(seed: int) -> bytes:
    return onnx_bytes(digits_module(seed))


def onnx_bytes(module: nn.Module) -> bytes:
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(folder) / "model.onnx"
        torch.onnx.export(
            module, (torch.zeros(2, N_FEATURES),), str(path), input_names=["input"], output_names=["probabilities"],
            dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=17, dynamo=False,
        )
        return path.read_bytes()


def schema() -> dict:
    return {
        "format": 1, "kind": "image", "classes": CLASSES, "feature_names": None, "n_features": N_FEATURES,
        "image": {"mode": "L", "channels": 1, "height": 8, "width": 8}, "text": None,
        "onnx_inputs": [{"name": "input", "dtype": "float32", "shape": ["batch", N_FEATURES]}],
        "onnx_output": "probabilities", "opset": 17, "trainer": "mlp",
    }


def served_export(project, *, seed: int = 0, run=None) -> ModelExport:
    """A ready export of a small digits network (weights from `seed`)."""
    run = run or logged_run(project, name=f"served {seed}")
    export = ModelExport.objects.create(project=project, run=run, state=ExportState.PENDING, trainer="mlp")
    data = onnx_bytes_of(seed)
    path, sha = onnx_files.store(run_id=run.mlflow_run_id, export_id=export.pk, variant="fp32", data=data)
    ModelExport.objects.filter(pk=export.pk).update(
        state=ExportState.READY, artifact_path=path, sha256=sha, size_bytes=len(data), opset=17,
        input_schema=schema(),
    )
    export.refresh_from_db()
    return export


def benchmarked(export: ModelExport, *, inside: bool) -> Benchmark:
    from django.utils import timezone

    return Benchmark.objects.create(
        project=export.project, export=export, finished_at=timezone.now(), results={"onnx": {"p95_ms": 1.0}},
        targets=[{"target": "latency_p95 ≤ 10 ms", "metric": "latency_p95", "value": 1.0 if inside else 50.0,
                  "met": inside}],
    )


def expected_probabilities(seed: int, rows) -> np.ndarray:
    with torch.no_grad():
        return digits_module(seed)(torch.tensor(np.asarray(rows, dtype=np.float32))).double().numpy()
