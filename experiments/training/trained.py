"""Trained models as the rest of the platform sees them: class probabilities for new inputs, and
the underlying estimator or torch module for export.

Why one small interface (predict_proba over class names): error analysis (confusion, worst
examples), active labelling (uncertainty) and the sealed test evaluation all need the same thing
from any model, baseline or network, and should not care which it is. Columns always follow
`classes`, also for scikit-learn estimators that never saw some class in training (their missing
columns are zeros).

The raw objects stay reachable on purpose (`SklearnModel.estimator`, `TorchModel.module` plus
`TorchModel.example_inputs()` giving the module's positional arguments) because the ONNX export
(torch.onnx / skl2onnx) works on those, not on this wrapper.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from experiments.training.data import shaped_forms
from experiments.training.errors import TrainingDataError
from experiments.training.text import Vocab

CHECKPOINT_FORMAT = "prakriya-torch-checkpoint/1"


class TrainedModel(ABC):
    trainer: str
    classes: tuple[str, ...]
    kind: str

    @abstractmethod
    def predict_proba(self, x: Any) -> np.ndarray:
        """(n, len(classes)) float64 probabilities, rows summing to 1."""

    def predict(self, x: Any) -> list[str]:
        return [self.classes[i] for i in np.argmax(self.predict_proba(x), axis=1)]


def _matrix(x: Any, width: int, image_shape: tuple[int, ...] | None) -> np.ndarray:
    array = np.asarray(x, dtype=np.float32)
    if image_shape is not None and array.shape[1:] in shaped_forms(image_shape):
        array = array.reshape(len(array), -1)
    if array.ndim != 2 or array.shape[1] != width:
        raise TrainingDataError(f"expected a matrix with {width} columns, got shape {array.shape}")
    return np.ascontiguousarray(array)


def _texts(x: Any) -> list[str]:
    if isinstance(x, str):
        raise TrainingDataError("expected a list of strings, got a single string")
    texts = list(x)
    if not all(isinstance(t, str) for t in texts):
        raise TrainingDataError("expected a list of strings")
    return texts


@dataclass
class SklearnModel(TrainedModel):
    trainer: str
    classes: tuple[str, ...]
    kind: str
    estimator: Any  # a fitted scikit-learn estimator or Pipeline, trained on class indices
    n_features: int | None = None
    image_shape: tuple[int, ...] | None = None

    def _inputs(self, x: Any) -> Any:
        if self.kind == "text":
            return _texts(x)
        assert self.n_features is not None
        return _matrix(x, self.n_features, self.image_shape)

    def predict_proba(self, x: Any) -> np.ndarray:
        inputs = self._inputs(x)
        out = np.zeros((len(inputs), len(self.classes)), dtype=np.float64)
        if len(inputs):
            out[:, np.asarray(self.estimator.classes_, dtype=np.int64)] = self.estimator.predict_proba(inputs)
        return out


class Batches(ABC):
    """Encoded inputs that can be cut into batches of module arguments."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def take(self, index: torch.Tensor) -> tuple[torch.Tensor, ...]: ...


@dataclass
class DenseBatches(Batches):
    x: torch.Tensor

    def __len__(self) -> int:
        return len(self.x)

    def take(self, index: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (self.x[index],)


@dataclass
class TextBatches(Batches):
    ids: torch.Tensor
    lengths: torch.Tensor
    starts: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.starts = torch.cumsum(self.lengths, 0) - self.lengths

    def __len__(self) -> int:
        return len(self.lengths)

    def take(self, index: torch.Tensor) -> tuple[torch.Tensor, ...]:
        lengths = self.lengths[index]
        pieces = [
            self.ids[s : s + n] for s, n in zip(self.starts[index].tolist(), lengths.tolist(), strict=True)
        ]
        ids = torch.cat(pieces) if pieces else torch.zeros(0, dtype=torch.int64)
        offsets = torch.cumsum(lengths, 0) - lengths
        return ids, offsets


@dataclass
class TorchModel(TrainedModel):
    trainer: str
    classes: tuple[str, ...]
    kind: str
    module: nn.Module
    config: Any  # the trainer's config dataclass
    n_features: int | None = None
    image_shape: tuple[int, ...] | None = None
    vocab: Vocab | None = None
    eval_batch_size: int = 1024

    def batches(self, x: Any) -> Batches:
        if self.kind == "text":
            assert self.vocab is not None
            return TextBatches(*self.vocab.encode(_texts(x)))
        assert self.n_features is not None
        return DenseBatches(torch.from_numpy(_matrix(x, self.n_features, self.image_shape)))

    @torch.no_grad()
    def logits(self, batches: Batches) -> torch.Tensor:
        was_training = self.module.training
        self.module.eval()
        try:
            n = len(batches)
            parts = [
                self.module(*batches.take(torch.arange(start, min(start + self.eval_batch_size, n))))
                for start in range(0, n, self.eval_batch_size)
            ]
        finally:
            self.module.train(was_training)
        return torch.cat(parts) if parts else torch.zeros(0, len(self.classes))

    def predict_proba(self, x: Any) -> np.ndarray:
        return torch.softmax(self.logits(self.batches(x)), dim=1).double().numpy()

    def example_inputs(self, x: Any | None = None, n: int = 2) -> tuple[torch.Tensor, ...]:
        """Positional arguments for `module(...)`, e.g. for torch.onnx.export: from `x` if given,
        otherwise `n` dummy rows of the right shape."""
        if x is None:
            if self.kind == "text":
                x = ["example"] * n
            else:
                assert self.n_features is not None
                x = np.zeros((n, self.n_features), dtype=np.float32)
        batches = self.batches(x)
        return batches.take(torch.arange(len(batches)))

    def checkpoint_meta(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "trainer": self.trainer,
            "classes": list(self.classes),
            "kind": self.kind,
            "config": self.config.as_params(),
            "n_features": self.n_features,
            "image_shape": list(self.image_shape) if self.image_shape else None,
            "vocab": list(self.vocab.tokens) if self.vocab else None,
        }

    def checkpoint_bytes(self, **extra: Any) -> bytes:
        """state_dict plus everything needed to rebuild the module (registry.load_checkpoint),
        in a form torch.load(weights_only=True) accepts: tensors and plain values only."""
        buffer = io.BytesIO()
        payload = {"meta": {**self.checkpoint_meta(), **extra}, "state_dict": self.module.state_dict()}
        torch.save(payload, buffer)
        return buffer.getvalue()


def read_checkpoint(data: bytes) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    try:
        payload = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - torch raises many types for foreign or damaged bytes
        raise TrainingDataError(f"not a readable checkpoint ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or payload.get("meta", {}).get("format") != CHECKPOINT_FORMAT:
        raise TrainingDataError("not a Prakriya torch checkpoint")
    return payload["meta"], payload["state_dict"]
