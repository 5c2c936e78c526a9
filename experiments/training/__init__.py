"""Training: baselines and small torch models on plain arrays, reporting through callbacks.

This package is plain Python on purpose (no Django, no MLflow): the Celery training job loads a
dataset version, builds a TrainData, adapts its MLflow run and JobContext to Callbacks and calls
`train(name, data, params, callbacks)`. Keeping the heavy code here means it is tested directly,
runs the same in a notebook, and can move to a GPU worker without the web app's settings.

    result = train("mlp", TrainData(x_tr, y_tr, x_va, y_va, kind="image", image_shape=(8, 8)),
                   {"epochs": 5, "seed": 1}, Callbacks(logger=my_logger))
    result.model.predict_proba(x)   # columns follow result.model.classes

Bad input (unknown trainer, bad config value, trainer/data mismatch, malformed data) raises a
TrainingInputError (a ValueError) with a message meant for the user.
"""

from experiments.training.callbacks import (
    Callbacks,
    Checkpoint,
    FolderCheckpointer,
    MetricsLogger,
    NullLogger,
    RecordingLogger,
)
from experiments.training.config import BaseConfig
from experiments.training.data import TrainData
from experiments.training.errors import TrainingConfigError, TrainingDataError, TrainingInputError
from experiments.training.overfit import OverfitResult, overfit_one_batch
from experiments.training.registry import (
    TRAINERS,
    TrainerSpec,
    get_trainer,
    load_checkpoint,
    make_config,
    train,
    trainers_for,
)
from experiments.training.result import TrainResult
from experiments.training.trained import SklearnModel, TorchModel, TrainedModel

__all__ = [
    "TRAINERS",
    "BaseConfig",
    "Callbacks",
    "Checkpoint",
    "FolderCheckpointer",
    "MetricsLogger",
    "NullLogger",
    "OverfitResult",
    "RecordingLogger",
    "SklearnModel",
    "TorchModel",
    "TrainData",
    "TrainResult",
    "TrainedModel",
    "TrainerSpec",
    "TrainingConfigError",
    "TrainingDataError",
    "TrainingInputError",
    "get_trainer",
    "load_checkpoint",
    "make_config",
    "overfit_one_batch",
    "train",
    "trainers_for",
]
