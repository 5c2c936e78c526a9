"""Re-running a recorded config on the same data gives bit-identical metrics: every logged value
is compared with ==, not approx, and so are the final probabilities."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from experiments.training import Callbacks, RecordingLogger, TrainData, train

CASES = [
    ("mlp", "digits", {"epochs": 2, "dropout": 0.2, "log_every_steps": 5}),
    ("cnn", "digits", {"epochs": 2, "dropout": 0.2}),
    # A fixed thread count above one is reproducible too (the count is part of the config).
    ("mlp", "digits", {"epochs": 1, "hidden_sizes": [128, 64], "num_threads": 2}),
    ("embedding_bag", "texts", {"epochs": 2, "dropout": 0.2}),
    ("logistic_regression", "digits", {}),
    ("random_forest", "digits", {"n_estimators": 20}),
    ("tfidf_logreg", "texts", {}),
]


def _run(name: str, data: TrainData, params: dict) -> tuple[RecordingLogger, np.ndarray]:
    logger = RecordingLogger()
    result = train(name, data, params, Callbacks(logger=logger))
    return logger, result.model.predict_proba(data.x_val)


@pytest.mark.parametrize(("name", "dataset", "params"), CASES)
def test_same_config_same_data_gives_identical_metrics(request, name, dataset, params):
    data = request.getfixturevalue(dataset)
    first_log, first_proba = _run(name, data, {"seed": 7, **params})
    # Disturb the global generator in between: the run must not depend on it.
    torch.rand(1000)
    second_log, second_proba = _run(name, data, {"seed": 7, **params})

    assert first_log.metrics == second_log.metrics
    assert first_log.params == second_log.params
    assert np.array_equal(first_proba, second_proba)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_another_seed_gives_another_run(digits, name):
    first, _ = _run(name, digits, {"seed": 1, "epochs": 1})
    second, _ = _run(name, digits, {"seed": 2, "epochs": 1})
    assert first.metrics != second.metrics


_SUBPROCESS = """
import json, sys
import experiments.training as training
# The package is plain Python: importing it must not pull in Django or MLflow.
assert "django" not in sys.modules and "mlflow" not in sys.modules, "training imports Django or MLflow"
from sklearn.datasets import load_digits
d = load_digits()
x, y = d.data, [str(v) for v in d.target]
data = training.TrainData(x[:600], y[:600], x[600:900], y[600:900], kind="image", image_shape=(8, 8))
log = training.RecordingLogger()
training.train("cnn", data, {"seed": 3, "epochs": 1}, training.Callbacks(logger=log))
print(json.dumps(log.metrics))
"""


def test_a_fresh_process_reproduces_the_run_without_django_or_mlflow(digits):
    """A recorded run is re-run later in another worker process: same config, same numbers."""
    here, _ = _run("cnn", digits, {"seed": 3, "epochs": 1})
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS],
        cwd=Path(__file__).resolve().parents[3],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    there = [(step, values) for step, values in json.loads(done.stdout)]
    assert there == here.metrics
