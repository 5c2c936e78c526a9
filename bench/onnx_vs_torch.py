"""ONNX Runtime against PyTorch eager for the demo models, fp32 and their int8 variant, side by side
in one process: latency (p50, p99) and throughput at batch 1 and a larger batch, and the ratios.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hbench PRAKRIYA_DATA_DIR=/tmp/td-bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/onnx_vs_torch.py [--threads 1] [--rounds 3]

The demo models are the two networks the demo dataset (scikit-learn's digits, 8x8 grey images,
64 inputs) offers: the MLP (one hidden layer of 128) and the small CNN (two conv blocks of 16 and 32
channels, a hidden layer of 64), each trained by the platform's training job (a few epochs: speed
does not depend on them) and exported by the export job with `quantise="dynamic"`, which makes the
fp32 `.onnx` and its int8 variant (ONNX Runtime's dynamic quantisation) beside it.

Measured with the platform's own benchmark functions (deployments/benchmark/measure.py, what the
benchmark job runs): the same real validation rows for every engine, inputs prepared before the
clock starts, --warmup untimed calls, then --iterations timed calls per batch size; one call of
ONNX Runtime is `session.run` of the export (softmax inside the graph), one call of PyTorch eager is
the module rebuilt from the run's checkpoint under torch.no_grad(), softmax included. Both engines
run with the same fixed thread count (--threads: ONNX Runtime's intra-op threads, sequential
execution; torch.set_num_threads). --rounds rounds, the engines' order rotating; medians over the
rounds. Ratios > 1 mean ONNX Runtime is faster (PyTorch latency / ORT latency, ORT throughput /
PyTorch throughput).

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import deploy_setup as ds  # noqa: E402 - after the path is set

MODELS = {
    "MLP": ("mlp", {"epochs": 5, "seed": 7}),
    "CNN": ("cnn", {"epochs": 3, "seed": 7}),
}
STATS = ("p50", "p99")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64, help="the larger batch size (besides 1)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ds.setup()
    from deployments.benchmark import measure
    from deployments.export.selectors import export_bytes
    from experiments.evaluation.recipe import recipe_for
    from experiments.inputs import load_inputs

    print(f"machine: {ds.machine_facts()}")
    project, lead = ds.project_and_lead("onnx")
    version = ds.digits_version(project, lead)
    x_val = load_inputs(version=version).data.x_val
    options = {"threads": args.threads, "batch_sizes": [1, args.batch], "warmup": args.warmup,
               "iterations": args.iterations}
    print(f"{len(x_val)} validation rows; threads {args.threads}; batches 1 and {args.batch}; "
          f"{args.warmup} warm-up + {args.iterations} timed calls per batch size; {args.rounds} rounds")

    rows = []
    for title, (trainer, config) in MODELS.items():
        t0 = time.perf_counter()
        run = ds.trained_run(version, lead, trainer=trainer, config=config)
        fp32, variants = ds.exported(run, lead, quantise="dynamic")
        int8 = next(v for v in variants if v.variant == "int8-dynamic")
        assert int8.is_ready, int8.failure
        recipe = recipe_for(run=run)
        engines = {
            "PyTorch eager": lambda recipe=recipe: measure.bench_original(recipe=recipe, x_val=x_val, options=options,
                                                                          progress=lambda p, m: None),
            "ORT fp32": lambda e=fp32: measure.bench_onnx(data=export_bytes(export=e), schema=e.input_schema,
                                                          x_val=x_val, options=options)[0],
            "ORT int8": lambda e=int8: measure.bench_onnx(data=export_bytes(export=e), schema=e.input_schema,
                                                          x_val=x_val, options=options)[0],
        }
        print(f"\n{title}: trained and exported in {time.perf_counter() - t0:.1f} s; fp32 {fp32.size_bytes:,} bytes, "
              f"int8 {int8.size_bytes:,} bytes; validation accuracy fp32 "
              f"{fp32.metrics.get('val_accuracy', float('nan')):.4f}, int8 {int8.metrics.get('val_accuracy', float('nan')):.4f}")
        per_round: dict[str, list[dict]] = {name: [] for name in engines}
        names = list(engines)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                per_round[name].append(engines[name]())
        median = {}
        for name, results in per_round.items():
            median[name] = {}
            for size in options["batch_sizes"]:
                cells = [res["batches"][str(size)] for res in results]
                median[name][size] = {
                    **{stat: statistics.median(c["latency_ms"][stat] for c in cells) for stat in STATS},
                    "throughput": statistics.median(c["throughput"] for c in cells),
                }
        for size in options["batch_sizes"]:
            base = median["PyTorch eager"][size]
            for name in names:
                m = median[name][size]
                rows.append((title, name, size, m["p50"], m["p99"], m["throughput"],
                             base["p50"] / m["p50"], base["p99"] / m["p99"], m["throughput"] / base["throughput"]))
        print(f"load average after {title}: {ds.load_average()}")

    print(f"\n{'model':<5} {'engine':<14} {'batch':>5} {'p50 ms':>9} {'p99 ms':>9} {'items/s':>10}  "
          f"{'p50 x':>6} {'p99 x':>6} {'thru x':>6}   (x: against PyTorch eager, >1 = faster)")
    for title, name, size, p50, p99, thru, r50, r99, rthru in rows:
        print(f"{title:<5} {name:<14} {size:>5} {p50:9.4f} {p99:9.4f} {thru:10,.0f}  {r50:6.2f} {r99:6.2f} {rthru:6.2f}")


if __name__ == "__main__":
    main()
