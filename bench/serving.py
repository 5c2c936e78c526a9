"""The platform's prediction endpoint against `mlflow models serve` of the same checkpoint, side by
side on the same machine, driven by the same load generator on loopback at the same concurrency.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hbench PRAKRIYA_DATA_DIR=/tmp/td-bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/serving.py

Set-up, through the platform's own services and jobs run in this process: a project, the bundled
digits split, a small MLP trained by the training job (the demo dataset's network, 5 epochs), its
ONNX export by the export job, a deployment of it and a key. The training job keeps the
checkpoint as `model/model.pt` (a state_dict with what rebuilds the module), not as an MLflow
model, so `mlflow models serve -m runs:/…` has nothing to serve; this script therefore rebuilds
the module from that same checkpoint (experiments.training.load_checkpoint), adds the softmax the
ONNX graph has, saves it with mlflow.pytorch.save_model (the pyfunc flavour, in MLflow 3's
default `pt2` serialisation: torch.export of the module, run by PyTorch), logs that folder into
the same MLflow run under `mlflow-pyfunc/` and serves the downloaded copy.

Servers, all on 127.0.0.1:
- platform: gunicorn exactly as docker-compose.yml's `web` service runs it (sync workers,
  --workers 3, --timeout 60, access log on, --preload) with compose's DATABASE_CONN_MAX_AGE=60,
  default settings otherwise: the prediction log on (the project's default privacy setting,
  inputs kept as a SHA-256); a keyed JSON prediction takes the WSGI fast path (deployments/wsgi.py);
- platform, make run's server: the gunicorn command `manage.py serve` starts (2 threaded workers of
  4 threads, --preload), on the same PostgreSQL database (make run's is SQLite);
- MLflow: `mlflow models serve -m <pyfunc> --env-manager local` at its default (one uvicorn
  worker), and again with --workers 3 to match the platform's process count.

Load: `wrk`, 10 connections (10 concurrent callers, each sending its next request when the last is
answered), 2 threads, one digit image per request (batch 1, 64 pixel values), the same image and
the same JSON `{"inputs": [[…]]}` body for all. Warm-up: bursts of concurrent requests until every
platform worker answers within 0.5 s (a worker's first request imports the URLconf, torch and
scikit-learn included, and loads the ONNX session), then 5 s of wrk per server. Then --rounds
rounds of --seconds each, the servers' order alternating from round to round. Reports requests/s,
p50 and p99 per server and round, the CPU time the server's processes (master and workers; not
PostgreSQL's) spent per request, medians, and the ratios. Before the load, both servers answer
the same 20 validation images and the predicted classes are compared.

Not part of the test suite; needs `wrk` (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import deploy_setup as ds  # noqa: E402 - after the path is set

MLP_CONFIG = {"epochs": 5, "seed": 7}  # the MLP's defaults otherwise (one hidden layer of 128)
CHECK_ITEMS = 20
GOAL_RATIO = 2.0
GOAL_P99_MS = 10.0


def mlflow_pyfunc(run, pixels, workdir: Path) -> Path:
    """The run's checkpoint as an MLflow pyfunc model, logged into the same run; the local copy."""
    import numpy as np
    import torch
    from mlflow.models import infer_signature
    from mlflow.pytorch import save_model

    from experiments import mlflow_store
    from experiments.evaluation.rebuild import download
    from experiments.evaluation.recipe import MODEL_ARTIFACT
    from experiments.training import load_checkpoint

    model = load_checkpoint(download(run.mlflow_run_id, MODEL_ARTIFACT))
    module = torch.nn.Sequential(model.module, torch.nn.Softmax(dim=1)).eval()
    x = np.asarray(pixels[:4], dtype=np.float32)
    with torch.no_grad():
        y = module(torch.from_numpy(x)).numpy()
    saved = workdir / "pyfunc-saved"
    # Requirements named, not inferred (inference loads the model in a subprocess); they do not
    # matter to --env-manager local, which serves from this environment.
    # MLflow 3's default format for a torch module (pt2: torch.export of the module, batch
    # dimension dynamic since the example holds 4 rows), with the example it requires.
    save_model(module, str(saved), signature=infer_signature(x, y), input_example=x,
               pip_requirements=[f"torch=={torch.__version__}"])
    mlflow_store.log_artifact(run_id=run.mlflow_run_id, local_path=saved, artifact_path="mlflow-pyfunc")
    return Path(mlflow_store.download_artifact(run_id=run.mlflow_run_id, path="mlflow-pyfunc",
                                               dst_path=workdir / "pyfunc"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measured run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=5.0)
    args = parser.parse_args()
    ds.wrk_available()
    ds.setup()
    from deployments.models import Prediction
    from prakriya.management.commands.serve import web_command

    workdir = Path(tempfile.mkdtemp(prefix="prakriya-bench-serving-"))
    print(f"machine: {ds.machine_facts()}")
    t0 = time.perf_counter()
    project, lead = ds.project_and_lead("serving")
    version = ds.digits_version(project, lead)
    run = ds.trained_run(version, lead, trainer="mlp", config=MLP_CONFIG)
    export, _ = ds.exported(run, lead)
    deployment, _, secret = ds.deployment_with_key(project, lead, export)
    pixels = ds.validation_pixels(version, CHECK_ITEMS)
    pyfunc = mlflow_pyfunc(run, pixels, workdir)
    print(f"set-up (digits, MLP training job, export job, deployment, pyfunc): {time.perf_counter() - t0:.1f} s; "
          f"export {export.pk}, run {run.mlflow_run_id}")

    names = ["platform", "mlflow-1", "mlflow-3", "platform-run"]
    ports = {name: ds.free_port() for name in names}
    path = ds.predict_path(deployment)
    urls = {name: f"http://127.0.0.1:{ports[name]}" + (path if name.startswith("platform") else "/invocations")
            for name in names}
    labels = {
        "platform": "platform as compose serves it (3 sync workers, log on)",
        "mlflow-1": "mlflow models serve (default: 1 worker)",
        "mlflow-3": "mlflow models serve --workers 3",
        "platform-run": "platform, make run's gunicorn (2 workers x 4 threads)",
    }
    keys = {name: secret if name.startswith("platform") else "" for name in names}
    mlflow = [str(ds.BIN / "mlflow"), "models", "serve", "-m", str(pyfunc), "--env-manager", "local",
              "-h", "127.0.0.1"]
    processes = {
        "platform": ds.start_gunicorn(ports["platform"], log=workdir / "gunicorn.log"),
        "platform-run": ds.start(web_command(bind=f"127.0.0.1:{ports['platform-run']}"),
                                 log=workdir / "gunicorn-run.log", env={**ds.server_env(), **ds.COMPOSE_ENV}),
        "mlflow-1": ds.start([*mlflow, "-p", str(ports["mlflow-1"])], log=workdir / "mlflow-1.log"),
        "mlflow-3": ds.start([*mlflow, "-p", str(ports["mlflow-3"]), "--workers", "3"], log=workdir / "mlflow-3.log"),
    }
    body = {"inputs": [pixels[0]]}
    try:
        for name, url in urls.items():
            ds.wait_until_up(url.replace("/invocations", "/ping") if "mlflow" in name else url,
                             process=processes[name], headers={"X-Deployment-Key": keys[name]})

        # Same model: the classes both servers predict for the same validation images.
        ours = ds.post_json(urls["platform"], {"inputs": pixels}, {"X-Deployment-Key": secret})
        theirs = ds.post_json(urls["mlflow-1"], {"inputs": pixels})["predictions"]
        classes = [str(max(range(len(row)), key=row.__getitem__)) for row in theirs]
        ours_labels = [p["label"] for p in ours["predictions"]]
        worst = max(abs(p["scores"][str(c)] - row[c]) for p, row in zip(ours["predictions"], theirs, strict=True)
                    for c in range(len(row)))
        same = sum(a == b for a, b in zip(ours_labels, classes, strict=True))
        print(f"same model: {same}/{len(pixels)} validation images get the same class from both servers "
              f"(max |score difference| {worst:.2g})")
        print(f"  platform: {' '.join(ours_labels)}\n  mlflow:   {' '.join(classes)}")
        if same != len(pixels):
            raise SystemExit("the two servers disagree: not the same model")

        for name in names:
            if name.startswith("platform"):
                warm = ds.warm_workers(urls[name], body=body, headers={"X-Deployment-Key": secret}, workers=3)
                print(f"every worker of {name} warm after {warm:.1f} s")
        before = Prediction.objects.filter(deployment=deployment).count()
        for name, url in urls.items():
            warm = ds.wrk(url, body=body, key=keys[name], connections=args.connections, seconds=args.warmup,
                          script_dir=workdir)
            print(f"warm-up {name}: {warm['requests']} requests, {warm['errors']} errors")

        results: dict[str, list[dict]] = {name: [] for name in names}
        print(f"\n{args.rounds} rounds of {args.seconds:g} s, wrk -c {args.connections} -t 2, batch 1")
        print(f"{'round':<6} {'server':<56} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/req':>10} "
              f"{'errors':>7}  load")
        for r in range(args.rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                cpu = ds.tree_cpu_seconds(processes[name].pid)
                row = ds.wrk(urls[name], body=body, key=keys[name], connections=args.connections,
                             seconds=args.seconds, script_dir=workdir)
                row["cpu_ms"] = 1000.0 * (ds.tree_cpu_seconds(processes[name].pid) - cpu) / max(1, row["requests"])
                row["load"] = ds.load_average()
                results[name].append(row)
                print(f"{r + 1:<6} {labels[name]:<56} {row['rps']:8.0f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
                      f"{row['cpu_ms']:10.2f} {row['errors']:7d}  {row['load']}", flush=True)
        time.sleep(1.0)  # the platform's log writers flush every 0.2 s
        logged = Prediction.objects.filter(deployment=deployment).count() - before
    finally:
        for process in processes.values():
            ds.stop(process)

    median = {name: {stat: statistics.median(row[stat] for row in rows)
                     for stat in ("rps", "p50_ms", "p99_ms", "cpu_ms")}
              for name, rows in results.items()}
    print(f"\nmedians over {args.rounds} rounds")
    print(f"{'server':<56} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/req':>10}")
    for name in names:
        m = median[name]
        print(f"{labels[name]:<56} {m['rps']:8.0f} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f} {m['cpu_ms']:10.2f}")
    ours = [name for name in names if name.startswith("platform")]
    for mine in ours:
        for other in ("mlflow-1", "mlflow-3"):
            m, o = median[mine], median[other]
            print(f"ratio {mine} / {other}: throughput {m['rps'] / o['rps']:.2f}x, "
                  f"p50 {m['p50_ms'] / o['p50_ms']:.2f}x, p99 {m['p99_ms'] / o['p99_ms']:.2f}x")
    sent = sum(row["requests"] for name in ours for row in results[name])
    errors = sum(row["errors"] for name in ours for row in results[name])
    print(f"prediction log: {logged} rows written while the platform answered {sent} measured requests "
          f"(+ warm-up); errors {errors}")
    ours_m = median["platform"]
    for other, what in (("mlflow-1", "as it runs by default"), ("mlflow-3", "with --workers 3")):
        ratio = ours_m["rps"] / median[other]["rps"]
        print(f"goal, platform as compose runs it: throughput >= {GOAL_RATIO:g}x MLflow's ({what}): {ratio:.2f}x -> "
              f"{'met' if ratio >= GOAL_RATIO else 'MISSED'}")
    print(f"goal: p99 < {GOAL_P99_MS:g} ms at {args.connections} callers: {ours_m['p99_ms']:.2f} ms -> "
          f"{'met' if ours_m['p99_ms'] < GOAL_P99_MS else 'MISSED'}")
    print(f"logs and model copies in {workdir}")


if __name__ == "__main__":
    main()
