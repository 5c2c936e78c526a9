"""What the deployment benchmarks (serving.py, onnx_vs_torch.py, rollout_switch.py) share: Django
set up against the benchmark database, a project with the bundled digits split as the platform
splits it, a model trained on it by the platform's training job, its ONNX export (and int8 variant)
by the export job, a deployment with a key, every job run in this process as a worker would run it;
the web server started exactly as docker-compose.yml starts it; and `wrk` driving an endpoint.

Not a benchmark itself and not part of the test suite.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

# docker-compose.yml, service `web` (the migrate and collectstatic before it are left out): the
# same server, worker class, worker count, timeout and access log, on loopback.
# docker-compose.yml's `web` service: its gunicorn command and the environment it sets that the
# settings' defaults do not (a kept database connection per worker).
GUNICORN_ARGS = ["prakriya.wsgi", "--workers", "3", "--timeout", "60", "--access-logfile", "-", "--preload"]
COMPOSE_ENV = {"DATABASE_CONN_MAX_AGE": "60"}


def setup() -> None:
    """Django on DATABASE_URL (migrated here), with its data folder in PRAKRIYA_DATA_DIR."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prakriya.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prakriya_bench")
    os.environ.setdefault("PRAKRIYA_DATA_DIR", str(Path(tempfile.gettempdir()) / "prakriya-bench-data"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def machine_facts() -> str:
    import onnxruntime
    import torch

    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, torch {torch.__version__}, "
            f"onnxruntime {onnxruntime.__version__}; load average {load}")


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# --- The platform's objects, made through its services and jobs --------------------------------


def run_queued() -> None:
    from prakriya.jobs.models import Job, JobState
    from prakriya.jobs.runner import job_execute

    for job_id in Job.objects.filter(state=JobState.QUEUED).order_by("id").values_list("id", flat=True):
        job_execute(job_id)


def project_and_lead(tag: str):
    from django.contrib.auth import get_user_model

    from projects.services import project_create

    suffix = f"{tag}-{uuid.uuid4().hex[:8]}"
    lead = get_user_model().objects.create_user(username=f"lead-{suffix}", password=None)
    project = project_create(creator=lead, slug=f"bench-{suffix}", title=f"Bench {suffix}")
    return project, lead


def digits_version(project, lead):
    """scikit-learn's bundled digits (the demo dataset), imported and split as the platform does."""
    from datasets import services as dataset_services
    from prakriya.jobs.models import JobState

    dataset = dataset_services.dataset_create(project=project, actor=lead, slug="digits", name="digits", kind="image")
    job = dataset_services.version_start_from_sklearn(dataset=dataset, actor=lead, name="digits")
    run_queued()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.message
    version = dataset.versions.get()
    dataset_services.split_create(version=version, actor=lead, seed=3)
    run_queued()
    version.refresh_from_db()
    return version


def trained_run(version, actor, *, trainer: str, config: dict[str, Any]):
    from experiments.launch import training_start
    from experiments.models import Run
    from prakriya.jobs.models import JobState

    job = training_start(version=version, actor=actor, trainer=trainer, config=config)
    run_queued()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, (job.message, job.log)
    return Run.objects.get(mlflow_run_id=job.result["run_id"])


def exported(run, actor, **options):
    """The fp32 export of the run and its variants (e.g. quantise="dynamic"), by the export job."""
    from deployments.export.services import export_start
    from deployments.models import ModelExport
    from prakriya.jobs.runner import job_execute

    export = export_start(run=run, actor=actor, **options)
    job_execute(export.job_id)
    export.refresh_from_db()
    assert export.is_ready, export.failure
    variants = list(ModelExport.objects.filter(base=export).order_by("id"))
    return export, variants


def deployment_with_key(project, lead, export, *, name: str = "digits"):
    """A deployment of `export` (the lead overrides the benchmark gate: no benchmark job is run
    here) and a key for it; returns (deployment, key row, secret)."""
    from deployments import services

    deployment = services.deployment_create(project=project, actor=lead, name=name, export=export,
                                            override_reason="benchmark set-up")
    key, secret = services.key_create(deployment=deployment, actor=lead, name="bench")
    return deployment, key, secret


def validation_pixels(version, n: int) -> list[list[float]]:
    """The first n validation images as the endpoint takes them: 64 pixel values 0-255."""
    from experiments.inputs import load_inputs

    x_val = load_inputs(version=version).data.x_val
    return [[float(v) for v in row] for row in x_val[:n]]


def predict_path(deployment) -> str:
    return f"/api/projects/{deployment.project.slug}/deployments/{deployment.slug}/predict/"


# --- Processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("DJANGO_SETTINGS_MODULE", "prakriya.settings")
    # `mlflow models serve` starts `uvicorn` by name: the venv's scripts come first.
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start(command: list[str], *, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A server in its own process group (stopped with stop() below), its output in `log`."""
    out = open(log, "wb")  # noqa: SIM115 - kept open for the life of the process
    return subprocess.Popen(command, cwd=ROOT, env=env or server_env(), stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=5)


def start_gunicorn(port: int, *, log: Path, workers: int = 3, extra: list[str] | None = None,
                   env: dict[str, str] | None = None) -> subprocess.Popen:
    args = list(GUNICORN_ARGS)
    args[args.index("--workers") + 1] = str(workers)
    command = [str(BIN / "gunicorn"), *args, "--bind", f"127.0.0.1:{port}", *(extra or [])]
    return start(command, log=log, env={**server_env(), **COMPOSE_ENV, **(env or {})})


def wait_until_up(url: str, *, process: subprocess.Popen, timeout: float = 120.0, data: bytes | None = None,
                  headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} before answering {url}")
        try:
            request = urllib.request.Request(url, data=data, headers=headers or {})
            # A long timeout: a worker's first request imports the URLconf (seconds, more on a busy
            # machine); a request given up here would leave that worker still cold.
            with urllib.request.urlopen(request, timeout=300) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def warm_workers(url: str, *, body: Any, headers: dict[str, str], workers: int, timeout: float = 600.0) -> float:
    """Bursts of concurrent requests until two bursts in a row answer every request within
    0.5 s: every worker of a pre-fork server has then loaded what its first request loads (a
    gunicorn worker of the platform imports its URLconf, and with it torch, scikit-learn and
    pandas, on its first request). Returns the seconds it took."""
    import concurrent.futures

    started = time.monotonic()
    calm = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=3 * workers) as pool:
        while calm < 2:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"the workers behind {url} were not warm after {timeout:.0f} s")

            def one(_):
                t = time.monotonic()
                post_json(url, body, headers)
                return time.monotonic() - t

            slowest = max(pool.map(one, range(6 * workers)))
            calm = calm + 1 if slowest < 0.5 else 0
    return time.monotonic() - started


def post_json(url: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and all its descendants (a server's master and
    workers)."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


# --- wrk ---------------------------------------------------------------------------------------------

_WRK_SCRIPT = r"""
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then wrk.headers["X-Deployment-Key"] = key end

done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "non_2xx": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""


def wrk_available() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: apt-get install wrk (see docs/benchmarks.md)")
    return found


def wrk(url: str, *, body: Any, key: str = "", connections: int = 10, threads: int = 2, seconds: float = 20.0,
        script_dir: Path) -> dict[str, Any]:
    """Closed-loop load: `connections` callers, each sending its next request as soon as the last
    one is answered, for `seconds`. Returns requests/s and latency percentiles in ms."""
    script = script_dir / "post.lua"
    script.write_text(_WRK_SCRIPT)
    env = dict(os.environ, BENCH_BODY=json.dumps(body, separators=(",", ":")), BENCH_KEY=key)
    result = subprocess.run(
        [wrk_available(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "10s",
         "-s", str(script), url],
        env=env, capture_output=True, text=True, check=True,
    )
    line = next((m for m in re.findall(r"^BENCH (.*)$", result.stdout, re.M)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line)
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "non_2xx"))
    return {
        "requests": raw["requests"],
        "errors": errors,
        "error_detail": {k: raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "non_2xx")
                         if raw[k]},
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000.0,
        "p90_ms": raw["p90_us"] / 1000.0,
        "p99_ms": raw["p99_us"] / 1000.0,
        "max_ms": raw["max_us"] / 1000.0,
        "mean_ms": raw["mean_us"] / 1000.0,
    }
