"""Overfit-one-batch: the sanity check before spending compute on a real run.

A correctly wired model and optimiser can drive the loss on a handful of examples to (almost)
zero. If it cannot, something is broken that more epochs will not fix: a learning rate that is far
too small, frozen or disconnected parameters, labels that contradict each other, a bug in the
input pipeline. The check takes one batch (the first `batch_size` examples of a seeded shuffle of
the training split), trains on it alone until the loss falls below `loss_threshold` (passed) or
`max_steps` run out (failed), and returns the whole loss curve for the run page.

Regularisation is switched off for the check (dropout 0, weight decay 0): it exists to stop a model
from memorising, which is exactly what this check asks it to do, and a noisy dropout loss would
make pass/fail depend on luck. The loss reported at each step is the loss before that step's
update, so a pass means the model as returned fits the batch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from experiments.training.callbacks import Callbacks
from experiments.training.config import BaseConfig, check_at_least, check_positive
from experiments.training.data import TrainData
from experiments.training.determinism import deterministic
from experiments.training.errors import TrainingConfigError
from experiments.training.registry import check_compatible, get_trainer, make_config
from experiments.training.torch_trainers import make_optimizer, params_for, prepare
from experiments.training.trained import TorchModel


@dataclass
class OverfitResult:
    status: Literal["passed", "failed", "cancelled"]
    steps: int
    final_loss: float
    losses: list[float]
    loss_threshold: float
    max_steps: int
    batch_size: int
    model: TorchModel
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def overfit_one_batch(
    name: str,
    data: TrainData,
    config: BaseConfig | Mapping[str, Any] | None = None,
    *,
    batch_size: int | None = None,
    loss_threshold: float = 0.01,
    max_steps: int = 500,
    callbacks: Callbacks | None = None,
) -> OverfitResult:
    spec = get_trainer(name)
    if spec.family != "torch":
        raise TrainingConfigError(
            f"overfit-one-batch trains a network step by step; {name} is a one-shot baseline"
        )
    check_compatible(spec, data)
    check_positive("loss_threshold", loss_threshold)
    check_at_least("max_steps", max_steps, 1)
    resolved = make_config(name, config)
    overrides: dict[str, Any] = {"weight_decay": 0.0}
    if hasattr(resolved, "dropout"):
        overrides["dropout"] = 0.0
    resolved = dataclasses.replace(resolved, **overrides)
    batch_size = resolved.batch_size if batch_size is None else batch_size  # type: ignore[attr-defined]
    check_at_least("batch_size", batch_size, 1)
    callbacks = callbacks or Callbacks()

    with deterministic(resolved.seed, resolved.num_threads) as rng:  # type: ignore[attr-defined]
        model, train_batches, _ = prepare(name, data, resolved)
        module = model.module
        callbacks.logger.log_params(
            {
                **params_for(name, data, resolved, model),
                "overfit_batch_size": batch_size,
                "overfit_loss_threshold": loss_threshold,
                "overfit_max_steps": max_steps,
            }
        )
        chosen = np.sort(rng.permutation(len(train_batches))[:batch_size])
        index = torch.from_numpy(chosen)
        inputs = train_batches.take(index)
        target = torch.from_numpy(data.y_train_idx[chosen])
        optimizer = make_optimizer(module, resolved)  # type: ignore[arg-type]
        module.train()
        losses: list[float] = []
        status: Literal["passed", "failed", "cancelled"] = "failed"
        message = f"loss stayed above {loss_threshold} for {max_steps} steps"
        report_every = max(1, max_steps // 20)
        for step in range(max_steps):
            if callbacks.should_stop():
                status, message = "cancelled", f"cancelled at step {step}"
                break
            loss = F.cross_entropy(module(*inputs), target)
            value = float(loss.item())
            losses.append(value)
            callbacks.logger.log_metrics({"train_loss": value}, step)
            if not math.isfinite(value):
                message = f"loss became {value} at step {step}"
                break
            if value < loss_threshold:
                status, message = "passed", f"loss {value:.4g} < {loss_threshold} after {step} steps"
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step % report_every == 0:
                callbacks.progress(step / max_steps, f"overfit-one-batch step {step}: loss {value:.4g}")
        module.eval()
    callbacks.progress(1.0, message)
    return OverfitResult(
        status=status,
        steps=len(losses),
        final_loss=losses[-1] if losses else math.nan,
        losses=losses,
        loss_threshold=loss_threshold,
        max_steps=max_steps,
        batch_size=len(chosen),
        model=model,
        message=message,
    )
