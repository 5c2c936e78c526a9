"""Runs and versions for the runs pages' tests, made without training: an MLflow run logged with
the platform's MlflowClient (as a notebook's client would log it), recorded under its project, and a
ready, split dataset version written straight to the database (training_start needs no files)."""

from __future__ import annotations

import time

from datasets.models import Split
from experiments import mlflow_store, services
from experiments.models import RunSource
from tests.fixtures_annotation import make_version


def logged_run(project, *, name: str = "notebook run", tags: dict[str, str] | None = None,
               train: list[float] | None = None, val: list[float] | None = None, steps: int | None = None,
               finished: bool = True, created_by=None):
    """An MLflow run in the project's experiment with the given loss curves (train_loss, val_loss,
    one point per step); `steps` logs a long train_loss curve instead. Returns the Run record."""
    from mlflow.entities import Metric

    experiment = services.experiment_ensure(project=project)
    client = mlflow_store.client()
    run = client.create_run(experiment.experiment_id, run_name=name, tags=tags or {})
    run_id = run.info.run_id
    stamp = int(time.time() * 1000)
    metrics = []
    for key, values in (("train_loss", train), ("val_loss", val)):
        metrics += [Metric(key, float(v), stamp, step) for step, v in enumerate(values or [])]
    if steps:
        metrics += [Metric("train_loss", 1.0 / (1 + step) + (step % 7) * 0.01, stamp, step) for step in range(steps)]
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start : start + 1000])
    if finished:
        client.set_terminated(run_id, status="FINISHED")
    return services.run_record(project=project, mlflow_run_id=run_id, source=RunSource.EXTERNAL, name=name,
                               created_by=created_by)


def split_version(project, *, slug: str = "digits", kind: str = "image"):
    """A ready version with a split row: enough for training_start to queue a job."""
    version = make_version(project, kind=kind, slug=slug, count=4)
    Split.objects.create(version=version, seed=1, train_fraction=0.6, validation_fraction=0.2, test_fraction=0.2)
    return version


TRACEABLE_TAGS = {
    mlflow_store.TAG_DATASET_VERSION: "digits@v1",
    mlflow_store.TAG_LABEL_VERSION: "digits@v1",
    mlflow_store.TAG_SEED: "7",
    mlflow_store.TAG_CODE_VERSION: "0.1.0+gabc",
    mlflow_store.TAG_PACKAGES: "torch==2.13.0",
    mlflow_store.TAG_KIND: "mlp",
}
