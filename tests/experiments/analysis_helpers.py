"""Runs with logged validation predictions for the error-analysis tests: a real JSON artifact in the
run's MLflow artifact store (as the training job writes it), and a tabular version whose items carry
the columns the slices read."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from datasets.models import Dataset, DatasetVersion, Item, VersionState
from experiments import mlflow_store
from tests.experiments.runs_helpers import logged_run

CLASSES = ["cat", "dog", "fox"]


def log_predictions(run, payload: dict | bytes) -> None:
    """Stores `payload` as the run's predictions/validation.json."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "validation.json"
        path.write_bytes(payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        mlflow_store.log_artifact(run_id=run.mlflow_run_id, local_path=path, artifact_path="predictions")


def payload(rows: list[tuple[str, str, list[float]]], classes: list[str] | None = None) -> dict:
    """The predictions file of (key, true label, probabilities) rows."""
    return {
        "classes": classes or CLASSES,
        "keys": [key for key, _, _ in rows],
        "labels": [label for _, label, _ in rows],
        "probabilities": [proba for _, _, proba in rows],
    }


def animal_version(project, *, slug: str = "animals", count: int = 12) -> DatasetVersion:
    """A ready tabular version: items `<slug>-000000`…, with a numeric `weight` (1…count) and a
    text `region` (north for even, south for odd items) column; labels cycle through CLASSES."""
    dataset = Dataset.objects.create(project=project, slug=slug, name=slug.title(), kind="tabular")
    version = DatasetVersion.objects.create(
        dataset=dataset, number=1, state=VersionState.READY, git_tag=f"{slug}-v1", git_commit="0" * 40,
        columns=["weight", "region"], item_count=count,
    )
    Item.objects.bulk_create(
        Item(version=version, key=f"{slug}-{i:06d}", label=CLASSES[i % 3], content_hash=f"{i:064d}",
             row={"weight": str(i + 1), "region": "north" if i % 2 == 0 else "south"})
        for i in range(count)
    )
    return version


def confident(label: str, p: float = 0.8) -> list[float]:
    """Probabilities that predict `label` with probability p, the rest shared evenly."""
    rest = (1 - p) / (len(CLASSES) - 1)
    return [p if c == label else rest for c in CLASSES]


def analysed_run(project, version: DatasetVersion, *, name: str, wrong: set[int], confidences: dict[int, float] | None = None):
    """A run on `version` (tagged with it) whose predictions are right except on the rows in
    `wrong` (predicted as the next class). Returns the Run record."""
    ref = f"{version.dataset.slug}@v{version.number}"
    run = logged_run(project, name=name, tags={mlflow_store.TAG_DATASET_VERSION: ref}, train=[1.0, 0.5], val=[1.1, 0.7])
    rows = []
    for i, item in enumerate(version.items.order_by("id")):
        guess = CLASSES[(CLASSES.index(item.label) + 1) % 3] if i in wrong else item.label
        rows.append((item.key, item.label, confident(guess, (confidences or {}).get(i, 0.8))))
    log_predictions(run, payload(rows))
    return run
