"""The benchmark's measurements, plain Python tested without Celery: an export under ONNX Runtime
and the run's original model (torch eager, or the scikit-learn estimator) side by side in one run
of one process, on the same real validation rows, with the same fixed thread count.

What each number means:
- latency: wall time of one call of the model on a prepared batch (inputs are built before the
  clock starts, for both engines alike), after `warmup` untimed calls; p50/p95/p99 over
  `iterations` timed calls, in milliseconds;
- throughput: items in those calls divided by their summed time, items per second;
- peak memory: growth of this process's resident set size (RSS, from psutil) from just before the
  engine's model is loaded to the highest RSS sampled after each call. ONNX: before the session is
  created; torch: before its checkpoint is read into a module; scikit-learn: after its re-fit (the
  fit's working memory is not counted against it, so neither is the estimator's own). A transient
  peak inside one call can be missed, and memory freed by one engine may be reused by the next:
  ONNX is measured first for that reason;
- model size: the bytes of the `.onnx` file, and of the torch checkpoint (`model/model.pt`); a
  scikit-learn estimator is never saved, so it has none. Sizes and memory in MB (10^6 bytes).
"""

from __future__ import annotations

import gc
import os
import platform
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np

from deployments.export import runtime
from experiments.evaluation.recipe import Recipe

Progress = Callable[[float, str], None]
# Distinct batches per batch size, cycled through the timed calls: real rows, not one row repeated.
DISTINCT_BATCHES = 16
MB = 1e6

MEMORY_METHOD = (
    "Growth of the worker's resident set size (psutil RSS) from just before the model is loaded (ONNX: "
    "session creation; torch: reading the checkpoint; scikit-learn: after its re-fit) to the highest RSS "
    "sampled after each call. A transient peak inside one call can be missed."
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(*, threads: int, providers: list[str]) -> dict[str, Any]:
    import onnxruntime
    import psutil
    import sklearn
    import torch

    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "torch": torch.__version__,
        "scikit_learn": sklearn.__version__,
        "providers": providers,
        "threads": threads,
    }


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def batch_rows(n: int, size: int, index: int) -> np.ndarray:
    """The rows of the index-th batch of `size`: consecutive validation rows, wrapping around."""
    return (np.arange(size) + index * size) % n


def time_calls(call: Callable[[Any], Any], batches: list[Any], *, size: int, warmup: int, iterations: int,
               peak: list[int]) -> dict[str, Any]:
    """Latency percentiles and throughput of `call` over the prepared `batches` (cycled)."""
    for i in range(warmup):
        call(batches[i % len(batches)])
        peak[0] = max(peak[0], _rss())
    latencies = np.empty(iterations, dtype=np.float64)
    for i in range(iterations):
        batch = batches[i % len(batches)]
        start = time.perf_counter()
        call(batch)
        latencies[i] = time.perf_counter() - start
        peak[0] = max(peak[0], _rss())  # after the clock stopped: sampling is not timed
    ms = latencies * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "latency_ms": {"p50": float(p50), "p95": float(p95), "p99": float(p99), "mean": float(ms.mean()),
                       "min": float(ms.min()), "max": float(ms.max())},
        "throughput": float(size * iterations / latencies.sum()) if latencies.sum() > 0 else None,
        "calls": iterations,
        "warmup": warmup,
    }


@contextmanager
def torch_threads(threads: int):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def bench_onnx(*, data: bytes, schema: dict[str, Any], x_val, options: dict[str, Any]) -> tuple[dict, list[str]]:
    gc.collect()
    baseline = _rss()
    peak = [baseline]
    onnx_session = runtime.session(data, threads=options["threads"])
    output = [schema["onnx_output"]]
    n = len(x_val)
    batches: dict[str, Any] = {}
    for size in options["batch_sizes"]:
        prepared = [runtime.feeds(schema, _take(x_val, batch_rows(n, size, i))) for i in range(DISTINCT_BATCHES)]
        batches[str(size)] = time_calls(lambda feed: onnx_session.run(output, feed), prepared, size=size,
                                        warmup=options["warmup"], iterations=options["iterations"], peak=peak)
    engine = {"engine": "ONNX Runtime", "batches": batches, "peak_rss_delta_mb": (peak[0] - baseline) / MB,
              "model_size_mb": len(data) / MB}
    return engine, list(onnx_session.get_providers())


def _take(x, rows: np.ndarray):
    if isinstance(x, np.ndarray):
        return x[rows]
    return [x[int(i)] for i in rows]


def bench_original(*, recipe: Recipe, x_val, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """The run's model as it trained: a torch module in eager mode (softmax included, as the
    ONNX graph has it), or the scikit-learn estimator's predict_proba."""
    import torch
    from threadpoolctl import threadpool_limits

    from experiments.evaluation.rebuild import download, rebuild_model
    from experiments.training import load_checkpoint

    threads = options["threads"]
    n = len(x_val)
    size_mb = None
    gc.collect()
    if recipe.family == "torch":
        from experiments.evaluation.recipe import MODEL_ARTIFACT

        checkpoint = download(recipe.run.mlflow_run_id, MODEL_ARTIFACT)
        size_mb = len(checkpoint) / MB
        baseline = _rss()
        model = load_checkpoint(checkpoint)
        module = model.module.eval()

        def call(args):
            with torch.no_grad():
                return torch.softmax(module(*args), dim=1)

        def prepare(rows):
            encoded = model.batches(_take(x_val, rows))
            return encoded.take(torch.arange(len(encoded)))

        engine_name = "PyTorch eager"
    else:
        model = rebuild_model(recipe, progress)
        baseline = _rss()
        estimator = model.estimator

        def call(x):
            return estimator.predict_proba(x)

        def prepare(rows):
            chunk = _take(x_val, rows)
            return chunk if model.kind == "text" else np.ascontiguousarray(np.asarray(chunk, dtype=np.float32))

        engine_name = "scikit-learn"
    peak = [baseline]
    batches: dict[str, Any] = {}
    with torch_threads(threads), threadpool_limits(limits=threads):
        for size in options["batch_sizes"]:
            prepared = [prepare(batch_rows(n, size, i)) for i in range(DISTINCT_BATCHES)]
            batches[str(size)] = time_calls(call, prepared, size=size, warmup=options["warmup"],
                                            iterations=options["iterations"], peak=peak)
    return {"engine": engine_name, "batches": batches, "peak_rss_delta_mb": (peak[0] - baseline) / MB,
            "model_size_mb": size_mb}


def ratios(onnx: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    """How many times faster ONNX Runtime is than the original, per batch size (>1: faster)."""
    out = {}
    for size, row in onnx["batches"].items():
        other = original["batches"].get(size)
        if not other:
            continue
        out[size] = {
            stat: (other["latency_ms"][stat] / row["latency_ms"][stat]) if row["latency_ms"][stat] else None
            for stat in ("p50", "p95", "p99")
        }
        if row["throughput"] and other["throughput"]:
            out[size]["throughput"] = row["throughput"] / other["throughput"]
    return out


def benchmark_export(*, data: bytes, schema: dict[str, Any], recipe: Recipe, options: dict[str, Any],
                     progress: Progress) -> dict[str, Any]:
    """Both engines measured on the validation rows of the run's version; the results stored."""
    from experiments.inputs import load_inputs

    progress(10, "Reading the validation rows of the run's dataset version")
    x_val = load_inputs(version=recipe.version).data.x_val
    if len(x_val) == 0:
        raise ValueError("The validation part is empty: there are no rows to benchmark on.")
    progress(25, "Measuring the ONNX model under ONNX Runtime")
    onnx, providers = bench_onnx(data=data, schema=schema, x_val=x_val, options=options)
    progress(60, "Measuring the original model")
    original = bench_original(recipe=recipe, x_val=x_val, options=options, progress=lambda p, m: None)
    return {
        "machine": machine(threads=options["threads"], providers=providers),
        "options": options,
        "inputs": {"items": len(x_val), "source": f"validation part of {recipe.version}"},
        "onnx": onnx,
        "original": original,
        "speedup": ratios(onnx, original),
        "memory_method": MEMORY_METHOD,
        "units": {"latency": "ms", "throughput": "items/s", "memory": "MB (10^6 bytes)", "size": "MB (10^6 bytes)"},
    }
