"""The MLflow run a job works in, opened one way for every job that tracks one: training,
overfit-one-batch and the sealed test evaluation.

A job that starts its run (training, overfit) gets it with the traceability tags (TAG_* in
mlflow_store): the dataset version (tag and an MLflow dataset input with the version's DVC hash),
the label version (the campaign release that wrote the version's labels, else the version
itself), the platform's code version and the versions of the packages that did the arithmetic;
the run is recorded on the platform and ended FINISHED when the body returns, KILLED when the job
is cancelled, FAILED on any other error. Before it starts, the runs an interrupted attempt of the
same job left RUNNING are closed FAILED: a half-written metric history is never continued as if it
were whole. The evaluation adds its metrics to the run it evaluates, which another job started and
ended: that run's status is left as it is.
"""

from __future__ import annotations

import json
import platform as python_platform
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

from django.conf import settings

from datasets.models import DatasetVersion
from experiments import mlflow_store
from experiments import services as experiment_services
from experiments.models import Run, RunSource
from experiments.sweeps import PARENT_PARAM
from prakriya.jobs.context import JobCancelled, JobContext

PACKAGES = ("torch", "scikit-learn", "numpy", "mlflow", "prakriya")


def code_version() -> str:
    """The platform's version and, when it runs from a git checkout, the commit."""
    version = metadata.version("prakriya")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=settings.BASE_DIR, capture_output=True,
            text=True, timeout=5, check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+g{commit}" if commit else version


def package_versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return " ".join([*found, f"python=={python_platform.python_version()}"])


def version_ref(version: DatasetVersion) -> str:
    return f"{version.dataset.slug}@v{version.number}"


def label_version_ref(version: DatasetVersion) -> str:
    """The campaign release whose labels the version holds, or the version itself (its labels
    came with its upload or from its parent)."""
    from datasets.annotation.models import LabelRelease

    release = LabelRelease.objects.filter(version=version).select_related("campaign").first()
    if release is not None:
        return f"{release.campaign.slug}/release-{release.pk}"
    return version_ref(version)


def dataset_input(version: DatasetVersion):
    from mlflow.entities import Dataset, DatasetInput, InputTag

    dataset = Dataset(
        name=version_ref(version),
        # MLflow keeps a 36-character digest: DVC's md5 of the version's folder fits.
        digest=(version.dvc_md5 or version.git_commit)[:36],
        source_type="dvc",
        source=json.dumps({"git_tag": version.git_tag, "git_commit": version.git_commit}),
    )
    return DatasetInput(dataset=dataset, tags=[InputTag(key="mlflow.data.context", value="training")])


def close_interrupted_runs(client, experiment_id: str, job_id: int) -> None:
    for run in client.search_runs(
        [experiment_id], filter_string=f"tags.`{mlflow_store.TAG_JOB}` = '{job_id}' and attributes.status = 'RUNNING'"
    ):
        client.set_tag(run.info.run_id, "prakriya.outcome", "interrupted")
        client.set_terminated(run.info.run_id, status="FAILED")


@dataclass
class TrackedRun:
    """One MLflow run as a job writes to it; also the trainers' logger (log_metrics, log_params):
    one log_batch per call."""

    run_id: str
    # Made on first use: opening an existing run costs nothing until the job writes to it.
    _client: Any = None

    @cached_property
    def client(self):
        return self._client if self._client is not None else mlflow_store.client()

    def set_tag(self, key: str, value: str) -> None:
        self.client.set_tag(self.run_id, key, value)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        self.client.log_batch(
            self.run_id, metrics=[Metric(key, float(value), stamp, int(step)) for key, value in metrics.items()]
        )

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[Param(key, str(value)[:6000]) for key, value in params.items()])

    def log_bytes(self, artifact_path: str, name: str, data: bytes) -> None:
        with tempfile.TemporaryDirectory(prefix="prakriya-artifact-") as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            mlflow_store.log_artifact(run_id=self.run_id, local_path=path, artifact_path=artifact_path)

    def param(self, key: str, default: str = "") -> str:
        """A parameter as MLflow recorded it (the trainer logs the values it used)."""
        return self.client.get_run(self.run_id).data.params.get(key, default)


@dataclass(frozen=True)
class RunStart:
    """What a job's own run starts with: the data it trains on and how it is named and tagged."""

    version: DatasetVersion
    trainer: str
    name: str
    stage: str = ""
    tags: dict[str, str] = field(default_factory=dict)


def _start(ctx: JobContext, start: RunStart) -> TrackedRun:
    """Creates the job's MLflow run with the traceability tags (after closing the runs an
    interrupted attempt left RUNNING) and records it; a sweep child's run hangs under its
    parent."""
    version = start.version
    project = version.dataset.project
    experiment = experiment_services.experiment_ensure(project=project)
    client = mlflow_store.client()
    close_interrupted_runs(client, experiment.experiment_id, ctx.job.pk)
    all_tags = {
        mlflow_store.TAG_MLFLOW_RUN_NAME: start.name,
        mlflow_store.TAG_SOURCE: RunSource.PLATFORM,
        mlflow_store.TAG_JOB: str(ctx.job.pk),
        mlflow_store.TAG_KIND: start.trainer,
        mlflow_store.TAG_DATASET_VERSION: version_ref(version),
        mlflow_store.TAG_LABEL_VERSION: label_version_ref(version),
        mlflow_store.TAG_CODE_VERSION: code_version(),
        mlflow_store.TAG_PACKAGES: package_versions(),
        "prakriya.git_commit": version.git_commit,
        **start.tags,
    }
    if start.stage:
        all_tags[mlflow_store.TAG_STAGE] = start.stage
    parent = None
    parent_id = ctx.params.get(PARENT_PARAM)
    if parent_id:
        parent = Run.objects.filter(project=project, mlflow_run_id=parent_id).first()
        all_tags[mlflow_store.TAG_MLFLOW_PARENT_RUN] = parent_id
    if ctx.job.created_by_id:
        all_tags[mlflow_store.TAG_MLFLOW_USER] = ctx.job.created_by.get_username()
    run = client.create_run(experiment.experiment_id, run_name=start.name, tags=all_tags)
    run_id = run.info.run_id
    experiment_services.run_record(
        project=project, mlflow_run_id=run_id, source=RunSource.PLATFORM, name=start.name,
        created_by=ctx.job.created_by, job=ctx.job, parent=parent,
    )
    return TrackedRun(run_id, client)


@contextmanager
def tracked_run(ctx: JobContext, *, start: RunStart | None = None, run_id: str | None = None) -> Iterator[TrackedRun]:
    """The run the job's body writes to: a new one (`start`), ended by how the body ends, or an
    existing one (`run_id`) another job started, left as it is. Exactly one of the two."""
    if (start is None) == (run_id is None):
        raise ValueError("tracked_run needs either start or run_id")
    if start is None:
        yield TrackedRun(run_id)
        return
    run = _start(ctx, start)
    status = "FAILED"
    try:
        yield run
        status = "FINISHED"
    except JobCancelled:
        status = "KILLED"
        raise
    finally:
        run.client.set_terminated(run.run_id, status=status)
