"""scikit-learn's bundled datasets (no download), staged like an upload for demos."""

from __future__ import annotations

import io
from pathlib import Path

from datasets.ingest.layout import staging_folder, write_layout
from datasets.ingest.records import (
    StagedItem,
    StagedVersion,
    image_key,
    image_relpath,
    row_bytes,
    row_key,
    sha256_hex,
)

SKLEARN_DATASETS = {
    "digits": ("image", "Handwritten digits: 1,797 8×8 greyscale images, labels 0–9"),
    "iris": ("tabular", "Iris flowers: 150 rows, 4 measurements, 3 species"),
    "wine": ("tabular", "Wine: 178 rows, 13 chemical measurements, 3 cultivars"),
    "breast_cancer": ("tabular", "Breast cancer (Wisconsin): 569 rows, 30 features, malignant or benign"),
}


def stage_sklearn(*, name: str, dest: Path) -> StagedVersion:
    if name not in SKLEARN_DATASETS:
        raise ValueError(
            f"unknown scikit-learn dataset {name!r}; choose one of {', '.join(SKLEARN_DATASETS)}"
        )
    with staging_folder(dest) as root:
        if name == "digits":
            items = _digits(root)
            columns: list[str] = []
        else:
            items, columns = _table(name)
        kind = SKLEARN_DATASETS[name][0]
        write_layout(kind=kind, root=root, items=items, columns=columns)
        return StagedVersion(kind, root, items, columns)


def _digits(root: Path) -> list[StagedItem]:
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    bunch = load_digits()
    (root / "images").mkdir()
    items = []
    taken: set[str] = set()
    for index, (pixels, target) in enumerate(zip(bunch.images, bunch.target, strict=True), start=1):
        # The digits hold 0–16; scale to the 0–255 of an 8-bit greyscale image.
        grey = np.clip(np.rint(pixels * 255.0 / 16.0), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(grey).save(buffer, format="PNG")
        data = buffer.getvalue()
        digest = sha256_hex(data)
        key = image_key(digest, taken)
        taken.add(key)
        relative = image_relpath(key, ".png")
        (root / relative).parent.mkdir(exist_ok=True)
        (root / relative).write_bytes(data)
        items.append(
            StagedItem(
                key=key,
                label=str(int(target)),
                content_hash=digest,
                size_bytes=len(data),
                file_path=relative,
                original_name=f"digits/{index:04d}.png",
            )
        )
    return items


def _table(name: str) -> tuple[list[StagedItem], list[str]]:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    columns = [str(c) for c in bunch.feature_names]
    items = []
    for index, (values, target) in enumerate(zip(bunch.data, bunch.target, strict=True), start=1):
        row = {c: repr(float(v)) for c, v in zip(columns, values, strict=True)}
        data = row_bytes(row)
        items.append(
            StagedItem(
                key=row_key(index),
                label=str(bunch.target_names[target]),
                content_hash=sha256_hex(data),
                size_bytes=len(data),
                row=row,
            )
        )
    return items, columns
