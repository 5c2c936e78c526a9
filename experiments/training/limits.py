"""The most one launched training may ask for: an upper bound on every setting a person can give.

Why here and not in each config's validate(): validate() also reads back configs recorded with old
runs (a checkpoint being loaded, an evaluation) and must keep accepting what was accepted then,
whatever the bounds are today. These bounds are checked when a job is launched
(experiments.launch), the one door that the pages, the API and the sweeps' combinations all go
through, so a refusal names the setting and its bound before anything is queued.

The lower bounds are validate()'s (epochs >= 1, lr > 0…): a value below them is not a setting at
all. The upper bounds keep one run within what a shared machine gives one job; each says why.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from experiments.training.config import BaseConfig
from experiments.training.errors import TrainingConfigError

# The platform passes its own (settings.PRAKRIYA_TRAINING_MAX_EPOCHS); this is its default.
DEFAULT_MAX_EPOCHS = 1000

UPPER_BOUNDS: dict[str, float] = {
    # numpy's legacy RandomState takes seeds below 2**32, and the forms, the API and MLflow params
    # carry 32-bit integers: one range for every place a seed goes.
    "seed": 2**31 - 1,
    # One batch lives in memory with its activations; 65,536 rows of a small image is already
    # hundreds of megabytes on a CPU worker.
    "batch_size": 65_536,
    "eval_batch_size": 65_536,
    # No optimiser the trainers offer converges with a step above 10: a larger value is a typo
    # that burns the run's time on NaNs.
    "lr": 10.0,
    "weight_decay": 1.0,
    # epochs bound a run already; max_steps only stops it earlier. Ten million steps is more than
    # any run that fits in the training time limit.
    "max_steps": 10_000_000,
    "log_every_steps": 10_000_000,
    # A job gets a share of a machine it shares with other jobs: more threads only take cores
    # from the others (and change the run's float sums, see determinism.py).
    "num_threads": 8,
    # Model size: widths that train on a CPU in minutes, not days (see also MAX_PARAMETERS).
    "hidden_sizes": 4096,
    "channels": 512,
    "hidden": 4096,
    "embedding_dim": 1024,
    "max_vocab": 200_000,
    "min_freq": 1_000_000,
    # Baselines: past these the solver or the forest only takes longer, never better.
    "C": 1e6,
    "max_iter": 100_000,
    "n_estimators": 1000,
    "max_depth": 200,
    "min_samples_leaf": 1_000_000,
    "ngram_max": 5,
    "min_df": 1_000_000,
    "max_features": 1_000_000,
}
# Layers of an MLP: deeper plain MLPs do not train better here, they only cost more.
MAX_LAYERS = 8
# Weights between hidden layers, and in an embedding table: 16 million float32 numbers (64 MB),
# times a few for the optimiser's state; a model that size is already slow to train on a CPU.
MAX_PARAMETERS = 16_000_000


def _fail(name: str, value: Any, requirement: str) -> None:
    raise TrainingConfigError(f"{name} {requirement} (got {value!r})")


def _number(maximum: float) -> str:
    return f"{int(maximum):,}" if float(maximum).is_integer() else f"{maximum:g}"


def check_launch_bounds(config: BaseConfig, *, max_epochs: int = DEFAULT_MAX_EPOCHS) -> None:
    """Raises TrainingConfigError naming the first setting above its bound."""
    bounds = {**UPPER_BOUNDS, "epochs": max_epochs}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        maximum = bounds.get(field.name)
        if maximum is None or value is None or isinstance(value, bool | str):
            continue
        if isinstance(value, tuple):
            if field.name == "hidden_sizes" and len(value) > MAX_LAYERS:
                _fail(field.name, list(value), f"must list at most {MAX_LAYERS} layers")
            for i, item in enumerate(value):
                if item > maximum:
                    _fail(f"{field.name}[{i}]", item, f"must be at most {_number(maximum)}")
            continue
        if not math.isfinite(value) or value > maximum:
            _fail(field.name, value, f"must be at most {_number(maximum)}")
    sizes = getattr(config, "hidden_sizes", None)
    if sizes:
        weights = sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))
        if weights > MAX_PARAMETERS:
            _fail("hidden_sizes", list(sizes), f"make {weights:,} weights between hidden layers; at most "
                  f"{MAX_PARAMETERS:,}")
    vocab, dim = getattr(config, "max_vocab", None), getattr(config, "embedding_dim", None)
    if vocab and dim and vocab * dim > MAX_PARAMETERS:
        _fail("max_vocab × embedding_dim", f"{vocab} × {dim}", f"make {vocab * dim:,} embedding weights; at most "
              f"{MAX_PARAMETERS:,}")
