"""Loss curves of long runs and metric ingestion: the platform against MLflow's own REST API.

    .venv/bin/python bench/loss_curves.py                      # 10 runs x 1,000,000 steps
    .venv/bin/python bench/loss_curves.py --runs 3 --steps 100000 --repeat 3   # a quick look

Everything runs in this one process, on a fresh data folder (the embedded default: the platform's
database in SQLite unless DATABASE_URL says otherwise, MLflow's SQLite store and artifact folder
under the data folder):

1. Ingestion (reported as metrics/s). The ordinary MLflow client (`MlflowClient.log_batch`, 1,000
   metrics per call, MLflow's limit) logs --ingest-steps points over HTTP to
   - the platform's tracking server (`/mlflow/`, a token of an engineer: authentication,
     authorisation, then MLflow's handlers), and
   - MLflow's own tracking server app (`mlflow.server.app`, no authentication) on the same store,
   each served by a WSGI server on a thread of this process, alternately --repeat times.
2. The curves. --runs runs of --steps steps each (train_loss at every step, val_loss every 1,000
   steps) are written straight into MLflow's metrics table with SQL: going through the client at the
   rate of step 1 would take most of an hour for 10,000,000 points, and what is measured here is
   reading them. Then, side by side, --repeat times each:
   - platform, cold: the runs comparison page overlaying all the runs
     (`/projects/<slug>/runs/compare/?run=…`, Django's test client as the lead: server time,
     template and plotly JSON included) with the curve cache emptied first;
   - platform, warm: the same page again (the curves come from the cache; the cheap series-version
     check still reads each series' latest point);
   - MLflow get-history-bulk-interval: `/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval` for
     the same runs and train_loss (what MLflow's own UI calls for its charts), max_results 2000
     (--anchor-requests per round: on 1,000,000-step runs each takes a long time);
   - MLflow full history: `/api/2.0/mlflow/metrics/get-history` of train_loss for every run, page by
     page until the last (what a client does to draw the whole curve).
   Both MLflow calls go through MLflow's Flask app with its test client: the same store, the same
   process, no network, like the platform's page.

Not part of the test suite; figures and the command that produced them go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SLUG = "curves-bench"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # one line per request would drown the output
        pass


class _ThreadedServer(WSGIServer):
    daemon_threads = True


def _serve(app) -> tuple[str, WSGIServer]:
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadedServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="bench-wsgi", daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def _setup_django(data_dir: Path) -> None:
    os.environ["PRAKRIYA_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{data_dir / 'platform.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prakriya.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _world():
    from django.contrib.auth import get_user_model

    from experiments import services as experiment_services
    from projects import services as project_services

    user_model = get_user_model()
    lead = user_model.objects.create_user("bench-lead", password="bench-password-1")
    engineer = user_model.objects.create_user("bench-engineer", password="bench-password-1")
    project = project_services.project_create(creator=lead, slug=SLUG, title="Curves benchmark")
    project_services.membership_set(project=project, actor=lead, user=engineer, role="engineer")
    experiment = experiment_services.experiment_ensure(project=project)
    return project, lead, engineer, experiment


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)] if ordered else math.nan


# --- 1. Ingestion -------------------------------------------------------------------------------


def _ingest(tracking_uri: str, token: str | None, experiment_id: str, steps: int) -> float:
    """Logs `steps` train_loss points in batches of 1,000 through the MLflow client; metrics/s."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    if token:
        os.environ["MLFLOW_TRACKING_TOKEN"] = token
    else:
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
    client = MlflowClient(tracking_uri=tracking_uri)
    run_id = client.create_run(experiment_id, run_name="ingestion").info.run_id
    stamp = int(time.time() * 1000)
    started = time.perf_counter()
    for start in range(0, steps, 1000):
        batch = [Metric("train_loss", 1.0 / (1 + step), stamp, step) for step in range(start, min(steps, start + 1000))]
        client.log_batch(run_id, metrics=batch)
    elapsed = time.perf_counter() - started
    client.set_terminated(run_id)
    return steps / elapsed


def bench_ingestion(args, experiment, engineer) -> dict[str, list[float]]:
    from django.core.handlers.wsgi import WSGIHandler

    from experiments.tracking import server as tracking_server
    from prakriya.accounts.services import api_token_create

    _, token = api_token_create(user=engineer)
    platform_url, platform_server = _serve(WSGIHandler())
    mlflow_url, mlflow_server = _serve(tracking_server.app())
    rates: dict[str, list[float]] = {"platform": [], "mlflow": []}
    try:
        for round_number in range(args.repeat):
            order = ["platform", "mlflow"] if round_number % 2 == 0 else ["mlflow", "platform"]
            for side in order:
                if side == "platform":
                    rate = _ingest(f"{platform_url}/mlflow", token, experiment.experiment_id, args.ingest_steps)
                else:
                    rate = _ingest(mlflow_url, None, experiment.experiment_id, args.ingest_steps)
                rates[side].append(rate)
                print(f"  ingestion round {round_number + 1} {side:8s} {rate:10,.0f} metrics/s", flush=True)
    finally:
        platform_server.shutdown()
        mlflow_server.shutdown()
    return rates


# --- 2. The curves ------------------------------------------------------------------------------


def _fill(args, project, experiment, lead) -> list[str]:
    """--runs runs of --steps train_loss points (and val_loss every 1,000 steps), inserted with SQL
    into MLflow's tables; returns their run ids."""
    from experiments import mlflow_store
    from experiments import services as experiment_services
    from experiments.models import RunSource

    client = mlflow_store.client()
    db_path = mlflow_store.config().backend_uri.removeprefix("sqlite:///")
    run_ids = []
    for number in range(args.runs):
        run = client.create_run(experiment.experiment_id, run_name=f"long run {number + 1}")
        run_ids.append(run.info.run_id)
        experiment_services.run_record(project=project, mlflow_run_id=run.info.run_id, source=RunSource.EXTERNAL,
                                       name=f"long run {number + 1}", created_by=lead)
    mlflow_store.tracking_store()  # the schema exists before sqlite3 writes into it
    connection = sqlite3.connect(db_path)
    stamp = int(time.time() * 1000)
    started = time.perf_counter()
    for number, run_id in enumerate(run_ids):
        rng = random.Random(number)
        decay = 0.5 + number / 10

        def rows(run_id=run_id, rng=rng, decay=decay):
            for step in range(args.steps):
                value = 2.0 * math.exp(-decay * step / args.steps * 5) + 0.1 + rng.random() * 0.05
                if rng.random() < 1e-4:
                    value *= 4  # a few spikes, which min/max downsampling must keep
                yield ("train_loss", value, stamp + step, run_id, step, False)
            for step in range(0, args.steps, 1000):
                yield ("val_loss", 2.1 * math.exp(-decay * step / args.steps * 4) + 0.2, stamp + step, run_id, step, False)

        with connection:
            connection.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
                rows(),
            )
            for key, step in (("train_loss", args.steps - 1), ("val_loss", (args.steps - 1) // 1000 * 1000)):
                connection.execute(
                    "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)",
                    (key, 0.1, stamp + step, step, False, run_id),
                )
        print(f"  filled run {number + 1}/{args.runs} ({time.perf_counter() - started:.0f} s)", flush=True)
    connection.close()
    for run_id in run_ids:
        client.set_terminated(run_id)
    return run_ids


def _timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def bench_curves(args, project, experiment, lead, run_ids: list[str]) -> dict[str, list[float]]:
    from django.core.cache import cache
    from django.test import Client

    from experiments.tracking import server as tracking_server

    browser = Client()
    browser.force_login(lead)
    compare = f"/projects/{project.slug}/runs/compare/?" + "&".join(f"run={run_id}" for run_id in run_ids)
    mlflow = tracking_server.app().test_client()
    bulk = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?" + "&".join(
        f"run_ids={run_id}" for run_id in run_ids
    ) + "&metric_key=train_loss&max_results=2000"

    def platform_page():
        response = browser.get(compare)
        assert response.status_code == 200, response.status_code
        return len(response.content)

    def bulk_interval():
        response = mlflow.get(bulk)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return len(response.get_data())

    def full_history():
        total = 0
        for run_id in run_ids:
            token = ""
            while True:
                url = f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=train_loss&max_results=25000"
                response = mlflow.get(url + (f"&page_token={token}" if token else ""))
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
                body = response.get_json()
                total += len(body.get("metrics", []))
                token = body.get("next_page_token") or ""
                if not token:
                    break
        assert total == len(run_ids) * args.steps, total
        return total

    times: dict[str, list[float]] = {"cold": [], "warm": [], "bulk": [], "full": []}
    sizes: dict[str, object] = {}
    for round_number in range(args.repeat):
        cache.clear()
        elapsed, sizes["page"] = _timed(platform_page)
        times["cold"].append(elapsed)
        for _ in range(args.warm_requests):
            elapsed, _size = _timed(platform_page)
            times["warm"].append(elapsed)
        for _ in range(args.anchor_requests):
            elapsed, sizes["bulk"] = _timed(bulk_interval)
            times["bulk"].append(elapsed)
        if round_number < args.full_rounds:
            elapsed, sizes["full"] = _timed(full_history)
            times["full"].append(elapsed)
        print(
            f"  round {round_number + 1}: page cold {times['cold'][-1] * 1000:8.1f} ms, warm median "
            f"{_median(times['warm'][-args.warm_requests:]) * 1000:6.1f} ms; bulk-interval median "
            f"{_median(times['bulk'][-args.anchor_requests:]) * 1000:8.1f} ms"
            + (f"; full history {times['full'][-1]:7.2f} s" if round_number < args.full_rounds else ""),
            flush=True,
        )
    print(f"  sizes: page {sizes['page']:,} bytes, bulk-interval {sizes['bulk']:,} bytes, "
          f"full history {sizes.get('full', 0):,} points")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warm-requests", type=int, default=10, help="warm requests per round and side")
    parser.add_argument("--anchor-requests", type=int, default=2,
                        help="get-history-bulk-interval requests per round (each takes seconds on long runs)")
    parser.add_argument("--full-rounds", type=int, default=1, help="rounds that also read the full histories")
    parser.add_argument("--ingest-steps", type=int, default=100_000, help="points per ingestion round")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="prakriya-bench-curves-"))
    print(f"data folder {data_dir}", flush=True)
    try:
        _setup_django(data_dir)
        project, lead, engineer, experiment = _world()
        print(f"1. ingestion: {args.ingest_steps:,} metrics per round, batches of 1,000, {args.repeat} rounds")
        rates = bench_ingestion(args, experiment, engineer)
        print(f"2. curves: {args.runs} runs x {args.steps:,} steps, written with SQL")
        run_ids = _fill(args, project, experiment, lead)
        times = bench_curves(args, project, experiment, lead, run_ids)

        platform_rate, mlflow_rate = _median(rates["platform"]), _median(rates["mlflow"])
        warm, cold = _median(times["warm"]), _median(times["cold"])
        bulk, full = _median(times["bulk"]), _median(times["full"])
        print("\nResults (medians)")
        print(f"  ingestion   platform /mlflow/ {platform_rate:10,.0f} metrics/s   MLflow's app {mlflow_rate:10,.0f} "
              f"metrics/s   ratio platform/MLflow {platform_rate / mlflow_rate:.2f}")
        print(f"  curves page warm {warm * 1000:8.1f} ms (p95 {_p95(times['warm']) * 1000:.1f} ms; limit 200 ms: "
              f"{'pass' if warm < 0.2 else 'FAIL'})   cold {cold * 1000:8.1f} ms")
        print(f"  MLflow get-history-bulk-interval {bulk * 1000:8.1f} ms   ratio page warm / bulk-interval "
              f"{warm / bulk:.3f}")
        print(f"  MLflow full get-history ({args.runs} runs) {full:8.2f} s   ratio page warm / full history "
              f"{warm / full:.5f}   page cold / full history {cold / full:.4f}")
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
