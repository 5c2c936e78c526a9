"""The data a trainer receives: plain arrays and lists, already split into training and validation.

Why plain containers: the training package must run inside a Celery worker, in a test and in a
notebook alike, so it knows nothing about datasets, DVC or Django. The job layer reads a dataset
version and hands over arrays; this module checks them once, up front, so that every trainer can
assume clean input and a mistake surfaces as a TrainingDataError naming what is wrong instead of a
shape error deep inside torch or scikit-learn.

Labels arrive as class names (strings) because that is what annotators produce; they are mapped to
indices here, in the order of `classes`, so every trainer and every probability matrix agrees on
which column is which class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from experiments.training.errors import TrainingDataError

DataKind = Literal["tabular", "image", "text"]
KINDS: tuple[str, ...] = ("tabular", "image", "text")


def _as_matrix(x: Any, name: str, image_shape: tuple[int, int, int] | None) -> np.ndarray:
    try:
        array = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise TrainingDataError(f"{name} must be a numeric matrix ({exc})") from exc
    if image_shape is not None and array.shape[1:] in shaped_forms(image_shape):
        array = array.reshape(len(array), -1)
    if array.ndim != 2:
        raise TrainingDataError(f"{name} must be a 2-D matrix (rows × features), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise TrainingDataError(f"{name} contains NaN or infinite values")
    return np.ascontiguousarray(array)


def shaped_forms(image_shape: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Row shapes accepted in place of a flat row: (C, H, W), and (H, W) for one channel."""
    shape = tuple(image_shape)
    return (shape, shape[1:]) if shape[0] == 1 else (shape,)


def _as_texts(x: Any, name: str) -> list[str]:
    if isinstance(x, str) or not isinstance(x, Sequence | np.ndarray):
        raise TrainingDataError(f"{name} must be a list of strings")
    texts = list(x)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TrainingDataError(f"{name}[{i}] is {type(text).__name__}, not a string")
    return texts


def _normalise_image_shape(shape: Any) -> tuple[int, int, int] | None:
    if shape is None:
        return None
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError) as exc:
        raise TrainingDataError(
            f"image_shape must be (height, width) or (channels, height, width), got {shape!r}"
        ) from exc
    if len(dims) == 2:
        dims = (1, *dims)
    if len(dims) != 3 or min(dims) < 1:
        raise TrainingDataError(
            f"image_shape must be (height, width) or (channels, height, width), got {shape!r}"
        )
    return dims  # type: ignore[return-value]


@dataclass
class TrainData:
    """Training and validation split of one labelled data set.

    x_* is a float matrix (tabular; image pixels flattened row-major, or shaped (n, *image_shape))
    or a list of strings (text). y_* are class names. `classes` fixes the column order of every
    probability matrix; when omitted it is the sorted set of labels seen in either split.
    """

    x_train: Any
    y_train: Sequence[str]
    x_val: Any
    y_val: Sequence[str]
    classes: Sequence[str] | None = None
    kind: DataKind = "tabular"
    image_shape: tuple[int, ...] | None = None
    # Filled in by __post_init__: labels as indices into `classes`.
    y_train_idx: np.ndarray = field(init=False, repr=False)
    y_val_idx: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TrainingDataError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        self.image_shape = _normalise_image_shape(self.image_shape)
        y_train = [str(y) for y in self.y_train]
        y_val = [str(y) for y in self.y_val]
        if not y_train:
            raise TrainingDataError("the training split is empty")
        if not y_val:
            raise TrainingDataError(
                "the validation split is empty: validation metrics are what a run reports"
            )
        if self.image_shape is not None and self.kind != "image":
            raise TrainingDataError(f"image_shape is only meaningful for image data, not {self.kind}")
        if self.kind == "text":
            self.x_train = _as_texts(self.x_train, "x_train")
            self.x_val = _as_texts(self.x_val, "x_val")
        else:
            self.x_train = _as_matrix(self.x_train, "x_train", self.image_shape)
            self.x_val = _as_matrix(self.x_val, "x_val", self.image_shape)
            if self.x_train.shape[1] != self.x_val.shape[1]:
                raise TrainingDataError(
                    f"x_train has {self.x_train.shape[1]} features but x_val has {self.x_val.shape[1]}"
                )
            if self.image_shape is not None and math.prod(self.image_shape) != self.x_train.shape[1]:
                raise TrainingDataError(
                    f"image_shape {self.image_shape} has {math.prod(self.image_shape)} pixels "
                    f"but each row has {self.x_train.shape[1]} values"
                )
        for split, x, y in (("train", self.x_train, y_train), ("val", self.x_val, y_val)):
            if len(x) != len(y):
                raise TrainingDataError(f"x_{split} has {len(x)} rows but y_{split} has {len(y)} labels")
        if self.classes is None:
            self.classes = sorted(set(y_train) | set(y_val))
        self.classes = tuple(str(c) for c in self.classes)
        if len(set(self.classes)) != len(self.classes):
            raise TrainingDataError("classes contains duplicates")
        index = {c: i for i, c in enumerate(self.classes)}
        for split, labels in (("y_train", y_train), ("y_val", y_val)):
            unknown = sorted(set(labels) - index.keys())
            if unknown:
                shown = ", ".join(repr(u) for u in unknown[:5])
                raise TrainingDataError(f"{split} has labels that are not in classes: {shown}")
        self.y_train = y_train
        self.y_val = y_val
        self.y_train_idx = np.array([index[y] for y in y_train], dtype=np.int64)
        self.y_val_idx = np.array([index[y] for y in y_val], dtype=np.int64)
        if len(np.unique(self.y_train_idx)) < 2:
            raise TrainingDataError("the training split needs examples of at least two classes")

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_features(self) -> int | None:
        return None if self.kind == "text" else int(self.x_train.shape[1])

    def summary(self) -> dict[str, Any]:
        """What a run records about its input (as parameters) besides the dataset version."""
        out: dict[str, Any] = {
            "data_kind": self.kind,
            "n_train": len(self.y_train),
            "n_val": len(self.y_val),
            "n_classes": self.n_classes,
        }
        if self.n_features is not None:
            out["n_features"] = self.n_features
        if self.image_shape is not None:
            out["image_shape"] = "x".join(str(d) for d in self.image_shape)
        return out
