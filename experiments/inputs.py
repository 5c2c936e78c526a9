"""A dataset version's training and validation items as the arrays a trainer takes.

Only the train and validation parts of the version's split are read: the test part is sealed and
is never loaded here, whatever its labels (the sealed evaluation reads it inside its own job).
Items with no label yet are left out. Image files come from the version's DVC store, decoded with
Pillow to one common size, so what a run trains on is exactly the version it names.
"""

from __future__ import annotations

import io
import math
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datasets import selectors as dataset_selectors
from datasets import storage
from datasets.models import DatasetKind, DatasetVersion, Item, SplitPart, VersionState
from experiments.training import TrainData, TrainingDataError

# Images larger than this on a side are scaled down: the built-in models are small CPU models.
MAX_IMAGE_SIDE = 64


@dataclass
class LoadedInputs:
    data: TrainData
    # Item keys in the order of the rows of x_val: error analysis shows the items behind mistakes.
    val_keys: list[str]
    notes: list[str] = field(default_factory=list)
    # Tabular versions: the numeric columns that became the features, in column order (an ONNX
    # export's input schema names them); None for images and texts.
    feature_names: list[str] | None = None


def labelled_parts(version: DatasetVersion) -> dict[str, list[Item]]:
    if not hasattr(version, "split"):
        raise TrainingDataError(
            f"{version.dataset.name} {version.label} has no split yet: split it into train, validation "
            "and test first (training reports its metrics on the validation part)."
        )
    sealed = dataset_selectors.sealed_keys(dataset=version.dataset)
    items = (
        Item.objects.filter(version=version, assignment__part__in=[SplitPart.TRAIN, SplitPart.VALIDATION])
        .exclude(label__isnull=True)
        .exclude(label="")
        .select_related("assignment")
        .order_by("id")
    )
    parts: dict[str, list[Item]] = {SplitPart.TRAIN: [], SplitPart.VALIDATION: []}
    for item in items:
        if item.key in sealed:  # belt and braces: a sealed key is never in train or validation
            continue
        parts[item.assignment.part].append(item)
    return parts


def tabular_arrays(version: DatasetVersion, parts: dict[str, list[Item]], notes: list[str]):
    train, val, _, _ = _tabular(version, parts, notes)
    return train, val, None


def _tabular(version: DatasetVersion, parts: dict[str, list[Item]], notes: list[str]):
    """The train and validation matrices, plus every column and the numeric ones that were kept."""
    columns = list(version.columns) or sorted({k for items in parts.values() for i in items for k in (i.row or {})})

    def value(raw) -> float:
        try:
            number = float(raw)
        except (TypeError, ValueError):
            return math.nan
        return number if math.isfinite(number) else math.nan

    matrices = {
        part: np.array([[value((i.row or {}).get(c)) for c in columns] for i in items], dtype=np.float64).reshape(
            len(items), len(columns)
        )
        for part, items in parts.items()
    }
    train = matrices[SplitPart.TRAIN]
    numeric = [j for j in range(len(columns)) if not np.isnan(train[:, j]).all()] if len(train) else []
    dropped = [columns[j] for j in range(len(columns)) if j not in numeric]
    if dropped:
        notes.append(f"Columns without numbers were left out: {', '.join(dropped)}.")
    if not numeric:
        raise TrainingDataError("No column of this version holds numbers: the built-in trainers need numeric features.")
    means = np.nanmean(train[:, numeric], axis=0)
    filled = 0
    for part in matrices:
        block = matrices[part][:, numeric]
        missing = np.isnan(block)
        filled += int(missing.sum())
        block[missing] = np.take(means, np.nonzero(missing)[1])
        matrices[part] = block
    if filled:
        notes.append(f"{filled} missing or non-numeric cells were filled with the training mean of their column.")
    return matrices[SplitPart.TRAIN], matrices[SplitPart.VALIDATION], columns, [columns[j] for j in numeric]


def image_arrays(version: DatasetVersion, parts: dict[str, list[Item]], notes: list[str]):
    from PIL import Image

    folder = Path(tempfile.mkdtemp(prefix="prakriya-train-"))
    try:
        root = storage.materialize_version(
            project_slug=version.dataset.project.slug, dataset_slug=version.dataset.slug,
            tag=version.git_tag, dest=folder / "v",
        )
        opened = {}
        for items in parts.values():
            for item in items:
                with Image.open(io.BytesIO((root / item.file_path).read_bytes())) as im:
                    im.load()
                    opened[item.key] = im.copy()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    grey = all(im.mode in ("1", "L", "I", "I;16", "F") for im in opened.values())
    mode, channels = ("L", 1) if grey else ("RGB", 3)
    # The most common size, scaled down if large: every image must become the same number of pixels.
    width, height = Counter(im.size for im in opened.values()).most_common(1)[0][0]
    scale = min(1.0, MAX_IMAGE_SIDE / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = sum(1 for im in opened.values() if im.size != size)
    if resized:
        notes.append(f"{resized} images were resized to {size[0]}×{size[1]} pixels.")

    def pixels(item: Item) -> np.ndarray:
        im = opened[item.key].convert(mode)
        if im.size != size:
            im = im.resize(size, Image.Resampling.BILINEAR)
        array = np.asarray(im, dtype=np.float32)
        # (H, W) or (H, W, C) → channels first, flattened row-major as TrainData expects.
        return (array[None] if channels == 1 else array.transpose(2, 0, 1)).reshape(-1)

    shape = (channels, size[1], size[0])
    matrices = {
        part: np.stack([pixels(i) for i in items]) if items else np.zeros((0, math.prod(shape)), np.float32)
        for part, items in parts.items()
    }
    return matrices[SplitPart.TRAIN], matrices[SplitPart.VALIDATION], shape


def load_inputs(*, version: DatasetVersion) -> LoadedInputs:
    """The version's labelled train and validation items as a TrainData (the test part is never read)."""
    if version.state != VersionState.READY:
        raise TrainingDataError(f"{version.dataset.name} {version.label} is not ready.")
    parts = labelled_parts(version)
    notes: list[str] = []
    kind = version.dataset.kind
    feature_names = None
    if kind == DatasetKind.TEXT:
        x_train, x_val = ([i.text for i in parts[p]] for p in (SplitPart.TRAIN, SplitPart.VALIDATION))
        shape = None
    elif kind == DatasetKind.IMAGE:
        x_train, x_val, shape = image_arrays(version, parts, notes)
    else:
        x_train, x_val, _, feature_names = _tabular(version, parts, notes)
        shape = None
    data = TrainData(
        x_train=x_train, y_train=[i.label for i in parts[SplitPart.TRAIN]],
        x_val=x_val, y_val=[i.label for i in parts[SplitPart.VALIDATION]],
        kind=str(kind), image_shape=shape,
    )
    return LoadedInputs(data=data, val_keys=[i.key for i in parts[SplitPart.VALIDATION]], notes=notes,
                        feature_names=feature_names)
