"""What an analysis reads: a run's logged validation predictions (cached: a finished run's
predictions never change), the dataset version the run names, and the items behind the predictions
through datasets.selectors.VisibleItem, so a sealed item never shows its label.

The predictions artifact is read from the run's artifact store, never a model.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.db.models.functions import Length

from datasets import selectors as dataset_selectors
from datasets.models import DatasetKind, DatasetVersion, Item
from experiments import mlflow_store, runs
from experiments.analysis.metrics import Predictions, PredictionsError, parse_predictions
from experiments.models import Run
from projects.models import Project, Target

PREDICTIONS_PATH = "predictions/validation.json"
MAX_PREDICTIONS_BYTES = 200 * 1024 * 1024
CACHE_SECONDS = 24 * 3600
# Slice columns every version of a kind has, besides a tabular version's own columns.
TEXT_LENGTH = "text length"
FILE_SIZE = "file size"


class NoPredictions(Exception):
    """The run logged no validation predictions (the message says why, for the page)."""


def _cache_key(run_id: str) -> str:
    return f"analysis:predictions:v1:{run_id}"


def _download(run_id: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        listed = {f.path: f for f in mlflow_store.list_artifacts(run_id=run_id, path="predictions")}
    except (MlflowException, OSError) as exc:
        raise NoPredictions("MLflow holds no artifacts for this run.") from exc
    entry = listed.get(PREDICTIONS_PATH)
    if entry is None:
        raise NoPredictions(
            f"This run logged no validation predictions ({PREDICTIONS_PATH}): error analysis reads them, "
            "and runs of the platform's training jobs log them once training ends."
        )
    if entry.file_size and entry.file_size > MAX_PREDICTIONS_BYTES:
        raise PredictionsError(f"The predictions file is larger than {MAX_PREDICTIONS_BYTES // 2**20} MB.")
    with tempfile.TemporaryDirectory(prefix="prakriya-analysis-") as folder:
        path = mlflow_store.download_artifact(run_id=run_id, path=PREDICTIONS_PATH, dst_path=folder)
        try:
            return json.loads(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PredictionsError("The predictions file is not JSON.") from exc


def predictions_for(run: Run) -> Predictions:
    """The run's validation predictions; NoPredictions or PredictionsError when there are none
    to read. The job writes the file once, as training ends, so a file found is final."""
    key = _cache_key(run.mlflow_run_id)
    payload = cache.get(key)
    if payload is None:
        payload = _download(run.mlflow_run_id)
        cache.set(key, payload, CACHE_SECONDS)
    return parse_predictions(payload)


def version_of(project: Project, info: runs.RunInfo) -> DatasetVersion | None:
    """The project's dataset version the run names, if the project has it."""
    parts = runs.version_ref_parts(info.dataset_version)
    if parts is None:
        return None
    return (
        DatasetVersion.objects.select_related("dataset")
        .filter(dataset__project=project, dataset__slug=parts[0], number=parts[1])
        .first()
    )


def without_sealed(p: Predictions, version: DatasetVersion | None) -> tuple[Predictions, int]:
    """The predictions minus any item of the sealed test split (a platform run never has one;
    a client-logged file might): sealed labels reach no page. Returns how many were left out."""
    if version is None:
        return p, 0
    sealed = dataset_selectors.sealed_keys(dataset=version.dataset)
    rows = [i for i, key in enumerate(p.keys) if key not in sealed]
    return (p, 0) if len(rows) == len(p) else (p.subset(rows), len(p) - len(rows))


def visible_items(version: DatasetVersion | None, keys: list[str]) -> dict[str, dataset_selectors.VisibleItem]:
    """The version's items of these keys, as people may see them."""
    if version is None or not keys:
        return {}
    return dataset_selectors.items_by_key(version=version, keys=keys)


def targets_of(project: Project) -> list[Target]:
    return list(project.targets.all())


# --- Slices -------------------------------------------------------------------------------------------


def slice_columns(version: DatasetVersion | None) -> list[str]:
    if version is None:
        return []
    kind = version.dataset.kind
    if kind == DatasetKind.TABULAR:
        return [str(c) for c in version.columns or []]
    return [TEXT_LENGTH] if kind == DatasetKind.TEXT else [FILE_SIZE]


@dataclass(frozen=True)
class Column:
    name: str
    values: dict[str, Any]  # item key → the item's value


def column_values(version: DatasetVersion, keys: list[str], column: str) -> Column:
    """Each item's value in `column` (one of slice_columns(version)); sealed items are never among
    the keys (without_sealed), and a column value is no label."""
    items = Item.objects.filter(version=version, key__in=keys)
    if column == TEXT_LENGTH:
        values = dict(items.annotate(chars=Length("text")).values_list("key", "chars"))
    elif column == FILE_SIZE:
        values = dict(items.values_list("key", "size_bytes"))
    else:
        values = {key: (row or {}).get(column) if isinstance(row, dict) else None
                  for key, row in items.values_list("key", "row")}
    return Column(column, values)
