"""The torch trainers (mlp, cnn, embedding_bag): one epoch/step loop shared by all three.

Why one hand-written loop rather than a framework (Lightning, ignite): the loop is ~80 lines, and
owning it keeps every source of nondeterminism visible (see determinism.py), keeps the callbacks
exactly the ones the job layer needs, and adds no dependency. Batches are cut by index from
tensors built once (no DataLoader workers: extra processes would cost more than they save for
models this size and complicate determinism).

What gets reported: params once at the start (full config, data summary, vocabulary size); every
`log_every_steps` steps the mean training loss over those steps (`train_loss_step`); after every
epoch `epoch`, `train_loss` (mean over the epoch's batches), `val_loss`, `val_accuracy` and
`val_macro_f1`, all at the global step so they share one x axis with the step curve. A non-finite
loss stops the run as "diverged" (continuing would only burn the worker's time); a `should_stop()`
that turns true stops before the next step as "cancelled".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from experiments.training.callbacks import Callbacks, Checkpoint
from experiments.training.config import (
    BaseConfig,
    check_at_least,
    check_choice,
    check_fraction,
    check_positive,
)
from experiments.training.data import TrainData
from experiments.training.determinism import deterministic, torch_generator
from experiments.training.errors import TrainingConfigError
from experiments.training.metrics import accuracy, macro_f1
from experiments.training.modules import MLP, EmbeddingBagClassifier, SmallCNN
from experiments.training.result import TrainResult
from experiments.training.text import Vocab
from experiments.training.trained import Batches, TorchModel

OPTIMIZERS = ("adam", "adamw", "sgd")


@dataclass(frozen=True)
class TorchConfig(BaseConfig):
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    momentum: float = 0.9  # sgd only
    # Stops the run after this many optimisation steps even mid-epoch (None: run all epochs).
    max_steps: int | None = None
    # 0 logs per epoch only; N > 0 also logs the mean training loss every N steps.
    log_every_steps: int = 0
    # Part of the run's identity: float sums depend on the thread count (see determinism.py).
    num_threads: int = 1
    eval_batch_size: int = 1024

    def validate(self) -> None:
        super().validate()
        check_at_least("epochs", self.epochs, 1)
        check_at_least("batch_size", self.batch_size, 1)
        check_positive("lr", self.lr)
        check_at_least("weight_decay", self.weight_decay, 0)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_fraction("momentum", self.momentum)
        if self.max_steps is not None:
            check_at_least("max_steps", self.max_steps, 1)
        check_at_least("log_every_steps", self.log_every_steps, 0)
        check_at_least("num_threads", self.num_threads, 1)
        check_at_least("eval_batch_size", self.eval_batch_size, 1)


@dataclass(frozen=True)
class MLPConfig(TorchConfig):
    hidden_sizes: tuple[int, ...] = (128,)
    dropout: float = 0.1

    def validate(self) -> None:
        super().validate()
        for i, size in enumerate(self.hidden_sizes):
            check_at_least(f"hidden_sizes[{i}]", size, 1)
        check_fraction("dropout", self.dropout)


@dataclass(frozen=True)
class CNNConfig(TorchConfig):
    channels: tuple[int, ...] = (16, 32)
    hidden: int = 64
    dropout: float = 0.1

    def validate(self) -> None:
        super().validate()
        if len(self.channels) != 2:
            raise TrainingConfigError(
                f"channels must list two sizes, one per conv block (got {list(self.channels)!r})"
            )
        for i, size in enumerate(self.channels):
            check_at_least(f"channels[{i}]", size, 1)
        check_at_least("hidden", self.hidden, 1)
        check_fraction("dropout", self.dropout)


@dataclass(frozen=True)
class EmbeddingBagConfig(TorchConfig):
    # Embedding-bag models learn sparse word vectors; they want a larger step than dense nets.
    lr: float = 1e-2
    embedding_dim: int = 64
    max_vocab: int = 20_000
    min_freq: int = 1
    dropout: float = 0.0

    def validate(self) -> None:
        super().validate()
        check_at_least("embedding_dim", self.embedding_dim, 1)
        check_at_least("max_vocab", self.max_vocab, 2)
        check_at_least("min_freq", self.min_freq, 1)
        check_fraction("dropout", self.dropout)


def build_module(
    name: str,
    config: Any,
    *,
    n_classes: int,
    n_features: int | None,
    image_shape: tuple[int, ...] | None,
    vocab_size: int | None,
) -> nn.Module:
    if name == "mlp":
        assert n_features is not None
        return MLP(n_features, config.hidden_sizes, n_classes, config.dropout)
    if name == "cnn":
        if image_shape is None:
            raise TrainingConfigError(
                "cnn needs image data with an image shape (height, width) or (channels, height, width)"
            )
        return SmallCNN(tuple(image_shape), tuple(config.channels), config.hidden, n_classes, config.dropout)  # type: ignore[arg-type]
    if name == "embedding_bag":
        assert vocab_size is not None
        return EmbeddingBagClassifier(vocab_size, config.embedding_dim, n_classes, config.dropout)
    raise AssertionError(f"no torch module for {name}")  # the registry only routes known names


def prepare(name: str, data: TrainData, config: Any) -> tuple[TorchModel, Batches, Batches]:
    """An untrained model with its input statistics (or vocabulary) taken from the training split,
    and both splits encoded. Call inside `deterministic()`: module construction draws the initial
    weights from torch's global generator."""
    vocab = None
    if name == "embedding_bag":
        vocab = Vocab.build(data.x_train, max_size=config.max_vocab, min_freq=config.min_freq)
    module = build_module(
        name,
        config,
        n_classes=data.n_classes,
        n_features=data.n_features,
        image_shape=data.image_shape,
        vocab_size=len(vocab) if vocab else None,
    )
    if data.kind != "text":
        x = torch.from_numpy(np.asarray(data.x_train, dtype=np.float64))
        if name == "cnn":
            assert data.image_shape is not None
            per_channel = (
                x.reshape(len(x), data.image_shape[0], -1).transpose(0, 1).reshape(data.image_shape[0], -1)
            )
            mean, std = per_channel.mean(dim=1), per_channel.std(dim=1, correction=0)
            module.normalise.set_stats(mean.float().reshape(-1, 1, 1), std.float().reshape(-1, 1, 1))
        else:
            module.normalise.set_stats(x.mean(dim=0).float(), x.std(dim=0, correction=0).float())
    model = TorchModel(
        trainer=name,
        classes=data.classes,
        kind=data.kind,
        module=module,
        config=config,
        n_features=data.n_features,
        image_shape=data.image_shape,
        vocab=vocab,
        eval_batch_size=config.eval_batch_size,
    )
    return model, model.batches(data.x_train), model.batches(data.x_val)


def make_optimizer(module: nn.Module, config: TorchConfig) -> torch.optim.Optimizer:
    params = module.parameters()
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def evaluate(model: TorchModel, batches: Batches, y: np.ndarray) -> dict[str, float]:
    logits = model.logits(batches)
    target = torch.from_numpy(y)
    pred = logits.argmax(dim=1).numpy()
    return {
        "val_loss": float(F.cross_entropy(logits, target).item()),
        "val_accuracy": accuracy(pred, y),
        "val_macro_f1": macro_f1(pred, y),
    }


def params_for(name: str, data: TrainData, config: BaseConfig, model: TorchModel) -> dict[str, Any]:
    params: dict[str, Any] = {"trainer": name, **config.as_params(), **data.summary()}
    if model.vocab is not None:
        params["vocab_size"] = len(model.vocab)
    params["n_parameters"] = sum(p.numel() for p in model.module.parameters())
    return params


def train_torch(name: str, data: TrainData, config: TorchConfig, callbacks: Callbacks) -> TrainResult:
    with deterministic(config.seed, config.num_threads):
        model, train_batches, val_batches = prepare(name, data, config)
        module = model.module
        callbacks.logger.log_params(params_for(name, data, config, model))
        optimizer = make_optimizer(module, config)
        order_generator = torch_generator(config.seed)
        y_train = torch.from_numpy(data.y_train_idx)
        n = len(train_batches)
        steps_per_epoch = math.ceil(n / config.batch_size)
        total_steps = config.epochs * steps_per_epoch
        if config.max_steps is not None:
            total_steps = min(total_steps, config.max_steps)

        status: str = "completed"
        message = ""
        step = 0
        epochs_done = 0
        metrics: dict[str, float] = {}
        window: list[float] = []
        callbacks.progress(0.0, f"training {name}: {config.epochs} epochs of {steps_per_epoch} steps")
        for epoch in range(1, config.epochs + 1):
            module.train()
            order = torch.randperm(n, generator=order_generator)
            loss_sum, seen = 0.0, 0
            for start in range(0, n, config.batch_size):
                if callbacks.should_stop():
                    status, message = "cancelled", f"cancelled at step {step} (epoch {epoch})"
                    break
                index = order[start : start + config.batch_size]
                loss = F.cross_entropy(module(*train_batches.take(index)), y_train[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                value = float(loss.item())
                loss_sum += value * len(index)
                seen += len(index)
                if not math.isfinite(value):
                    status, message = "diverged", f"training loss became {value} at step {step}"
                    break
                if config.log_every_steps:
                    window.append(value)
                    if step % config.log_every_steps == 0:
                        callbacks.logger.log_metrics({"train_loss_step": float(np.mean(window))}, step)
                        window.clear()
                        callbacks.progress(step / total_steps, f"epoch {epoch}, step {step}/{total_steps}")
                if config.max_steps is not None and step >= config.max_steps:
                    break
            if status == "cancelled" or seen == 0:
                break
            epochs_done = epoch
            metrics = {
                "epoch": float(epoch),
                "train_loss": loss_sum / seen,
                **evaluate(model, val_batches, data.y_val_idx),
            }
            callbacks.logger.log_metrics(metrics, step)
            if status == "diverged":
                break
            if callbacks.on_checkpoint is not None:
                data_bytes = model.checkpoint_bytes(epoch=epoch, step=step)
                callbacks.on_checkpoint(
                    Checkpoint(epoch=epoch, step=step, metrics=dict(metrics), data=data_bytes)
                )
            callbacks.progress(
                step / total_steps,
                f"epoch {epoch}/{config.epochs}: val_loss {metrics['val_loss']:.4f}, "
                f"val_accuracy {metrics['val_accuracy']:.3f}",
            )
            if config.max_steps is not None and step >= config.max_steps:
                break
        module.eval()
    return TrainResult(
        status=status,  # type: ignore[arg-type]
        model=model,
        metrics=metrics,
        epochs=epochs_done,
        steps=step,
        message=message,
    )
