"""A run's model rebuilt in memory, for whatever must run it again after training: the sealed
test evaluation, and the ONNX export and its benchmark (deployments/).

Nothing is unpickled. A torch run's `model/model.pt` is read with torch's weights_only loader; a
scikit-learn baseline, which is never saved, is re-fitted from the trainer, configuration and seed
its training job recorded, and trusted only if it predicts the validation items exactly as the
run did (experiments.evaluation.recipe says when a run can be rebuilt at all).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from experiments import mlflow_store
from experiments.evaluation.recipe import MODEL_ARTIFACT, PREDICTIONS_ARTIFACT, Recipe

# A re-fitted baseline's validation probabilities may differ from the recorded ones (rounded to
# six decimals) by the rounding alone.
PREDICTION_TOLERANCE = 1e-6

Progress = Callable[[float, str], None]


class RebuildError(Exception):
    """The run's model cannot be rebuilt; the message is ours, for people."""


def download(run_id: str, path: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="prakriya-rebuild-") as folder:
        return Path(mlflow_store.download_artifact(run_id=run_id, path=path, dst_path=folder)).read_bytes()


def _refit_baseline(recipe: Recipe, progress: Progress):
    from experiments import inputs
    from experiments.training import train

    progress(10, "Re-fitting the baseline from the run's recorded trainer, configuration and seed")
    loaded = inputs.load_inputs(version=recipe.version)
    result = train(recipe.trainer, loaded.data, recipe.config)
    if result.model is None or result.status != "completed":
        raise RebuildError("The baseline could not be re-fitted.")
    progress(40, "Checking the re-fitted baseline against the run's validation predictions")
    recorded = json.loads(download(recipe.run.mlflow_run_id, PREDICTIONS_ARTIFACT))
    same = recorded.get("keys") == loaded.val_keys and recorded.get("classes") == list(result.model.classes)
    if same:
        proba = np.round(result.model.predict_proba(loaded.data.x_val), 6)
        stored = np.asarray(recorded.get("probabilities") or [], dtype=np.float64)
        same = stored.shape == proba.shape and bool(np.allclose(proba, stored, rtol=0, atol=PREDICTION_TOLERANCE))
    if not same:
        raise RebuildError(
            "The re-fitted baseline does not reproduce the run's validation predictions (the data, the code or a "
            "package changed since the run): it is not the run's model."
        )
    return result.model


def rebuild_model(recipe: Recipe, progress: Progress):
    """The run's TrainedModel (experiments.training.trained): a TorchModel or a SklearnModel."""
    if recipe.family == "torch":
        from experiments.training import load_checkpoint

        progress(10, f"Loading {MODEL_ARTIFACT}")
        return load_checkpoint(download(recipe.run.mlflow_run_id, MODEL_ARTIFACT))
    return _refit_baseline(recipe, progress)
