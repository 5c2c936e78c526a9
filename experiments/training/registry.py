"""Trainer names → what they are: config class, the kinds of data they accept, and how to run them.

Why a registry keyed by name: a training job stores only a trainer name and a params dict (JSON in
the Job row and in the MLflow run), so re-running a recorded run, listing choices in a form and
validating an API request all go through the same lookup. Anything a person can get wrong (name,
config, trainer/data mismatch) is raised as a TrainingConfigError before any work starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from experiments.training.baselines import (
    LogisticRegressionConfig,
    MajorityConfig,
    RandomForestConfig,
    TfidfLogRegConfig,
    train_baseline,
)
from experiments.training.callbacks import Callbacks
from experiments.training.config import BaseConfig
from experiments.training.data import TrainData
from experiments.training.errors import TrainingConfigError, TrainingDataError
from experiments.training.result import TrainResult
from experiments.training.text import Vocab
from experiments.training.torch_trainers import (
    CNNConfig,
    EmbeddingBagConfig,
    MLPConfig,
    build_module,
    train_torch,
)
from experiments.training.trained import TorchModel, read_checkpoint


@dataclass(frozen=True)
class TrainerSpec:
    name: str
    label: str
    family: Literal["baseline", "torch"]
    kinds: tuple[str, ...]
    config_class: type[BaseConfig]

    def default_config(self) -> BaseConfig:
        return self.config_class()


TRAINERS: dict[str, TrainerSpec] = {
    spec.name: spec
    for spec in (
        TrainerSpec("majority", "Majority class", "baseline", ("tabular", "image", "text"), MajorityConfig),
        TrainerSpec(
            "logistic_regression",
            "Logistic regression",
            "baseline",
            ("tabular", "image"),
            LogisticRegressionConfig,
        ),
        TrainerSpec("random_forest", "Random forest", "baseline", ("tabular", "image"), RandomForestConfig),
        TrainerSpec("tfidf_logreg", "TF-IDF + logistic regression", "baseline", ("text",), TfidfLogRegConfig),
        TrainerSpec("mlp", "Multi-layer perceptron", "torch", ("tabular", "image"), MLPConfig),
        TrainerSpec("cnn", "Small convolutional network", "torch", ("image",), CNNConfig),
        TrainerSpec("embedding_bag", "Embedding bag (text)", "torch", ("text",), EmbeddingBagConfig),
    )
}


def get_trainer(name: str) -> TrainerSpec:
    try:
        return TRAINERS[name]
    except (KeyError, TypeError):
        raise TrainingConfigError(f"unknown trainer {name!r}; choose one of {', '.join(TRAINERS)}") from None


def trainers_for(kind: str) -> list[TrainerSpec]:
    return [spec for spec in TRAINERS.values() if kind in spec.kinds]


def make_config(name: str, config: BaseConfig | Mapping[str, Any] | None = None) -> BaseConfig:
    """The trainer's config from a params mapping (as stored in a job or run), a ready config
    object, or None for the defaults; always validated."""
    spec = get_trainer(name)
    if config is None or isinstance(config, Mapping):
        return spec.config_class.from_params(config)
    if type(config) is not spec.config_class:
        raise TrainingConfigError(
            f"{name} takes a {spec.config_class.__name__}, not a {type(config).__name__}"
        )
    config.validate()
    return config


def check_compatible(spec: TrainerSpec, data: TrainData) -> None:
    if data.kind not in spec.kinds:
        raise TrainingConfigError(
            f"{spec.name} cannot train on {data.kind} data; for {data.kind} data use one of "
            f"{', '.join(s.name for s in trainers_for(data.kind))}"
        )
    if spec.name == "cnn" and data.image_shape is None:
        raise TrainingConfigError(
            "cnn needs image data with an image shape (height, width) or (channels, height, width)"
        )


def train(
    name: str,
    data: TrainData,
    config: BaseConfig | Mapping[str, Any] | None = None,
    callbacks: Callbacks | None = None,
) -> TrainResult:
    """Trains trainer `name` on `data`. Raises TrainingConfigError / TrainingDataError for bad
    input before any training starts; cancellation and divergence come back as a status."""
    spec = get_trainer(name)
    resolved = make_config(name, config)
    check_compatible(spec, data)
    callbacks = callbacks or Callbacks()
    if spec.family == "torch":
        return train_torch(name, data, resolved, callbacks)  # type: ignore[arg-type]
    return train_baseline(name, data, resolved, callbacks)


def load_checkpoint(data: bytes) -> TorchModel:
    """Rebuilds a torch model from Checkpoint.data / TorchModel.checkpoint_bytes(). Loads with
    torch's weights_only unpickler: tensors and plain values, never arbitrary objects."""
    meta, state_dict = read_checkpoint(data)
    name = meta["trainer"]
    if get_trainer(name).family != "torch":
        raise TrainingDataError(f"checkpoint names {name!r}, which is not a torch trainer")
    config = make_config(name, meta["config"])
    vocab = Vocab(tuple(meta["vocab"])) if meta.get("vocab") else None
    image_shape = tuple(meta["image_shape"]) if meta.get("image_shape") else None
    module = build_module(
        name,
        config,
        n_classes=len(meta["classes"]),
        n_features=meta.get("n_features"),
        image_shape=image_shape,
        vocab_size=len(vocab) if vocab else None,
    )
    module.load_state_dict(state_dict)
    module.eval()
    return TorchModel(
        trainer=name,
        classes=tuple(meta["classes"]),
        kind=meta["kind"],
        module=module,
        config=config,
        n_features=meta.get("n_features"),
        image_shape=image_shape,
        vocab=vocab,
        eval_batch_size=getattr(config, "eval_batch_size", 1024),
    )


__all__ = [
    "TRAINERS",
    "TrainerSpec",
    "check_compatible",
    "get_trainer",
    "load_checkpoint",
    "make_config",
    "train",
    "trainers_for",
]
