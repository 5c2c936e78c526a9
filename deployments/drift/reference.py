"""What production traffic is compared with: the training part of the dataset version the
deployed export's run was trained on, summarised as quantile bins per feature or statistic and
the label distribution.

Read through experiments.inputs.load_inputs, which loads the train and validation parts only:
the sealed test part is never read, and only the train part is used here. The summary holds bin
edges and shares, never an item, and is cached per export and version commit (a version never
changes once written), so an hourly check does not decode the training images every hour.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from django.core.cache import cache

from datasets.models import DatasetVersion
from deployments.drift import stats
from deployments.models import ModelExport
from experiments import runs

CACHE_SECONDS = 24 * 3600


class DriftError(Exception):
    """Why a drift check cannot be made, for people."""


@dataclass
class Reference:
    kind: str
    version: str  # "<dataset>@v<n>", as runs name their version
    classes: list[str]
    label_shares: list[float]
    # name → {"source": "stats" | "input", "edges": [...], "shares": [...]}
    features: dict[str, dict]
    train_items: int


def training_version(export: ModelExport) -> DatasetVersion:
    """The project's dataset version the export's run names (its MLflow dataset-version tag)."""
    info = runs.run_info(export.run)
    parts = runs.version_ref_parts(info.dataset_version)
    version = (
        DatasetVersion.objects.select_related("dataset__project", "split")
        .filter(dataset__project_id=export.project_id, dataset__slug=parts[0], number=parts[1])
        .first()
        if parts
        else None
    )
    if version is None:
        raise DriftError(f"The run of export {export.pk} names no dataset version of this project to compare with.")
    return version


def feature_names(schema: dict, width: int) -> list[str]:
    names = list(schema.get("feature_names") or [])
    return names if len(names) == width else [f"feature {j + 1}" for j in range(width)]


def _summarise(export: ModelExport, version: DatasetVersion) -> Reference:
    from experiments.inputs import load_inputs
    from experiments.training import TrainingDataError

    schema = export.input_schema or {}
    try:
        data = load_inputs(version=version).data
    except TrainingDataError as exc:
        raise DriftError(str(exc)) from None
    kind = data.kind
    features: dict[str, dict] = {}
    if kind in ("image", "text"):
        rows = [stats.input_stats(schema={"kind": kind}, row=row) for row in data.x_train]
        for name in stats.stat_names(kind):
            values = np.array([r[name] for r in rows], dtype=np.float64)
            edges = stats.quantile_edges(values)
            features[name] = {"source": "stats", "edges": edges, "shares": stats.bin_shares(values, edges)}
    else:
        matrix = np.asarray(data.x_train, dtype=np.float64)
        for j, name in enumerate(feature_names(schema, matrix.shape[1])):
            edges = stats.quantile_edges(matrix[:, j])
            features[name] = {"source": "input", "edges": edges, "shares": stats.bin_shares(matrix[:, j], edges)}
    classes = [str(c) for c in (schema.get("classes") or data.classes)]
    return Reference(
        kind=kind, version=f"{version.dataset.slug}@v{version.number}", classes=classes,
        label_shares=stats.category_shares([str(y) for y in data.y_train], classes), features=features,
        train_items=len(data.y_train),
    )


def reference_for(export: ModelExport) -> Reference:
    version = training_version(export)
    key = f"prakriya:drift-reference:{export.pk}:{version.pk}:{version.git_commit}"
    cached = cache.get(key)
    if cached is not None:
        return Reference(**cached)
    reference = _summarise(export, version)
    cache.set(key, asdict(reference), CACHE_SECONDS)
    return reference
